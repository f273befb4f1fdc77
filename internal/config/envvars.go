package config

// EnvVar documents one environment variable a sluice process reads.
type EnvVar struct {
	Name, Default, Help string
	// For names the processes that read it: "api", "worker", or both.
	For []string
}

var (
	both   = []string{"api", "worker"}
	api    = []string{"api"}
	worker = []string{"worker"}
)

// EnvVars is every environment variable of the api and the worker: the one
// list that their --help prints (and the README's table mirrors). A test keeps
// it complete against the source.
var EnvVars = []EnvVar{
	{"DATABASE_URL", "(required)", "Postgres URL; pgxpool settings such as pool_max_conns are allowed", both},
	{"SLUICE_CONFIG", "", "path of the YAML configuration (models, accounts); sluice's format or a LiteLLM proxy config", both},
	{"SLUICE_CONFIG_YAML", "", "the YAML configuration itself, instead of SLUICE_CONFIG", both},
	{"AWS_REGION", "us-east-1", "region of the SQS queues", both},
	{"SLUICE_QUEUE_PREFIX", "sluice", "queues are {prefix}-{alias}-interactive / -batch, dead-letter queues …-dlq", both},
	{"SLUICE_SQS_ENDPOINT", "AWS", "SQS endpoint URL (locally: fauxqs or moto)", both},
	{"SLUICE_BEDROCK_ENDPOINT", "AWS", "Bedrock Runtime endpoint URL (locally: the simulator)", worker},
	{"SLUICE_STS_ENDPOINT", "AWS", "STS endpoint URL (locally: the simulator)", worker},
	{"SLUICE_CREATE_QUEUES", "false", "create missing queues (local; Terraform creates them on AWS)", both},
	{"SLUICE_MASTER_KEY", "", "the admin API key (without it only managed keys are admitted)", api},
	{"SLUICE_LISTEN_ADDR", ":8080", "where the api serves HTTP, /metrics and /healthz", api},
	{"SLUICE_SYNC_TIMEOUT", "10m", "how long a synchronous caller waits before it is told to poll", api},
	{"SLUICE_ACCOUNTS", "all", "comma list of the account names this worker serves", worker},
	{"SLUICE_METRICS_ADDR", ":9090", "where the worker serves /metrics and /healthz", worker},
	{"SLUICE_QUOTA_WINDOW", "1m", "length of a quota \"minute\"; only tests and the simulator shorten it", worker},
	{"SLUICE_WEBHOOK_SECRET", "", "whsec_…: signs callbacks of master-key jobs (managed keys have their own)", both},
	{"SLUICE_WEBHOOK_ALLOW_PRIVATE", "false", "allow callbacks to private and loopback addresses", both},
	{"SLUICE_WEBHOOK_TIMEOUT", "15s", "one webhook delivery attempt", both},
	{"SLUICE_RETENTION", "168h", "how long finished jobs are kept", both},
	{"SLUICE_BATCH_WINDOW", "24h", "how long a batch may run before it expires", api},
	{"SLUICE_ADMISSION", "true", "answer 429 at once when the queue cannot meet a caller's stated deadline", api},
	{"SLUICE_BUDGET_LEASES", "false", "reserve from a leased slice of each budget (few budget transactions) instead of the shared row", worker},
	{"SLUICE_LEASE", "30s", "a claim's lease: a killed worker's jobs run again about this long after", worker},
	{"SLUICE_RETRY_HORIZON", "10m", "how long transient Bedrock faults are retried (never past a job's deadline)", worker},
	{"SLUICE_DRAIN_TIMEOUT", "100s", "on SIGTERM, how long calls in flight may finish before they are released", worker},
	{"SLUICE_FAIR_WINDOW", "1m", "how long a tenant's past service counts against it", worker},
	{"SLUICE_BODY_TIMEOUT", "30s", "how long a request body may take to arrive; slower ones get 408", api},
	{"SLUICE_UPLOAD_TIMEOUT", "10m", "how long a file upload may take to arrive", api},
	{"SLUICE_MAX_CONNECTIONS", "4096", "open connections at once; more wait in the accept queue", api},
	{"SLUICE_JANITOR_EVERY", "5s", "janitor sweep interval", worker},
	{"SLUICE_JANITOR_GRACE", "30s", "age before the janitor sends a job the api did not", worker},
	{"SLUICE_MIGRATE", "true", "false: only check the schema at start, never migrate (AWS runs the migrate task)", both},
	{"SLUICE_DB_IAM_AUTH", "false", "log in with an RDS IAM token per connection (AWS)", both},
	{"SLUICE_DB_APP_USER", "", "migrate: create this role with data rights only (and rds_iam)", both},
	{"SLUICE_EMF_NAMESPACE", "", "write the worker's metrics as CloudWatch EMF to stdout, in this namespace", worker},
	{"SLUICE_SERVICE_NAME", "worker", "the EMF service dimension", worker},
	{"SLUICE_LOG_LEVEL", "info", "debug, info, warn or error", both},
	{"SLUICE_LOG_FORMAT", "json", "json or text", both},
	{"SLUICE_MIGRATE", "true", "false: never migrate at start, only check the schema (on AWS a migrate task does it)", both},
	{"SLUICE_DB_IAM_AUTH", "false", "true: connect to Postgres with IAM authentication tokens (RDS)", both},
	{"SLUICE_DB_APP_USER", "", "migrate: the role the services log in as, created with the rights they need", both},
	{"SLUICE_LEASE", "30s", "how long a worker's claim on a job holds without a heartbeat", worker},
	{"SLUICE_RETRY_HORIZON", "10m", "how long transient Bedrock faults are retried before a job fails", worker},
	{"SLUICE_DRAIN_TIMEOUT", "100s", "how long a stopping worker lets calls finish before releasing them", worker},
	{"SLUICE_FAIR_WINDOW", "1m", "how long a tenant's past service counts against it when the next job is chosen", worker},
	{"SLUICE_JANITOR_EVERY", "5s", "how often the worker's janitor sweeps", worker},
	{"SLUICE_JANITOR_GRACE", "30s", "how old a job whose message was never sent must be before the janitor sends it", worker},
	{"SLUICE_EMF_NAMESPACE", "", "CloudWatch namespace: set, the worker prints its metrics as EMF once a minute", worker},
	{"SLUICE_SERVICE_NAME", "worker", "the Service dimension of the EMF metrics", worker},
	{"SLUICE_ADMISSION", "true", "answer 429 at once to sync requests the queue cannot serve before their deadline", api},
	{"SLUICE_BODY_TIMEOUT", "30s", "how long a request body may take to arrive", api},
	{"SLUICE_UPLOAD_TIMEOUT", "10m", "how long a file upload may take to arrive", api},
	{"SLUICE_MAX_CONNECTIONS", "4096", "open connections the api accepts at once; more wait", api},
}

// EnvVarsFor returns the variables process reads, in EnvVars' order.
func EnvVarsFor(process string) []EnvVar {
	var out []EnvVar
	for _, v := range EnvVars {
		for _, p := range v.For {
			if p == process {
				out = append(out, v)
			}
		}
	}
	return out
}
