"""moto_server for the IAM check, with one fix to moto's IAM enforcement.

moto authorises each SQS request against the ARN of the queue it names, but it
finds the queue only from a QueueUrl parameter. GetQueueUrl (and CreateQueue)
name the queue with QueueName, so moto checked them against "*", which no
least-privilege policy grants. AWS checks them against the queue's ARN; so
does this server. Everything else is moto_server as is.

Usage: python3 moto_server.py [moto_server arguments]
"""
import sys

from moto.server import main
from moto.sqs.responses import SQSResponse

_queue_name = SQSResponse._get_queue_name


def _get_queue_name(self):
    if not self._get_param("QueueUrl"):
        name = self._get_param("QueueName")
        if name:
            return name
    return _queue_name(self)


SQSResponse._get_queue_name = _get_queue_name

if __name__ == "__main__":
    main(sys.argv[1:])
