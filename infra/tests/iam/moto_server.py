"""moto_server for the IAM check, with two fixes to moto's IAM enforcement,
both to authorise SQS requests as AWS does:

- moto authorises each SQS request against the ARN of the queue it names, but
  finds the queue only from a QueueUrl parameter. GetQueueUrl (and
  CreateQueue) name the queue with QueueName, so moto checked them against
  "*", which no least-privilege policy grants. AWS checks the queue's ARN.
- The batch actions have no IAM actions of their own: AWS authorises
  SendMessageBatch as sqs:SendMessage, DeleteMessageBatch as
  sqs:DeleteMessage, ChangeMessageVisibilityBatch as
  sqs:ChangeMessageVisibility. moto asked for sqs:SendMessageBatch etc.

Everything else is moto_server as is.

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

_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_authorize = SQSResponse._authenticate_and_authorize_action


def _authenticate_and_authorize_action(self, iam_request_cls, resource="*"):
    # Only the authorisation sees the mapped name; dispatch keeps the real one.
    get_action = self._get_action
    self._get_action = lambda: _BATCH.get(get_action(), get_action())
    try:
        return _authorize(self, iam_request_cls, resource)
    finally:
        del self._get_action


SQSResponse._authenticate_and_authorize_action = _authenticate_and_authorize_action

if __name__ == "__main__":
    main(sys.argv[1:])
