// Package iam runs the api and the worker under exactly the IAM policies
// Terraform gives their task roles, with moto enforcing them, and pushes jobs
// through every path that needs a permission. A permission the binaries need
// but the policy lacks fails the run (AccessDenied); one the policy grants
// but no call used fails it too. scripts/check-infra runs it (SLUICE_IAM_CHECK=1).
package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluice-broker/sluice/internal/bedrocksim"
	"github.com/sluice-broker/sluice/internal/devenv"
	"github.com/sluice-broker/sluice/internal/jobs"
	"github.com/sluice-broker/sluice/internal/queue"
)

const (
	account   = "123456789012" // moto's default account
	region    = "us-east-1"
	alias     = "nova-lite"
	modelID   = "amazon.nova-lite-v1:0"
	callerARN = "arn:aws:iam::" + account + ":role/bedrock-caller"
	masterKey = "sk-iam-check"
)

// env is what all cases share: built binaries, Postgres, moto behind a
// recording proxy, the Bedrock simulator.
type env struct {
	bin      string
	pg       *devenv.Postgres
	motoURL  string
	rec      *recorder
	proxyURL string
	simURL   string
	admin    aws.Config
}

func TestTaskPoliciesUnderEnforcement(t *testing.T) {
	if os.Getenv("SLUICE_IAM_CHECK") == "" {
		t.Skip("set SLUICE_IAM_CHECK=1 (scripts/check-infra does) to run the api and worker under moto's IAM enforcement")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := setup(ctx, t)

	// The policies as deployed: everything works, every grant is used.
	t.Run("deployed", func(t *testing.T) {
		if err := e.run(ctx, t, "deployed", nil); err != nil {
			t.Fatal(err)
		}
	})
	// The review's first finding: the api resolves DLQs at start.
	t.Run("missing permission fails", func(t *testing.T) {
		err := e.run(ctx, t, "missing", func(p map[string]*policy) {
			p["api"].Statement = slices.DeleteFunc(p["api"].Statement, func(s statement) bool { return s.Sid == "ResolveQueues" })
			p["api"].Statement = append(p["api"].Statement, statement{Sid: "ResolveWorkQueues", Effect: "Allow",
				Action: []string{"sqs:GetQueueUrl"}, Resource: p["api"].resources("Enqueue")})
		})
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Fatalf("want an AccessDenied failure, got %v", err)
		}
		t.Logf("rejected as expected: %v", firstLine(err))
	})
	// The review's second finding: DLQ permissions workers never use.
	t.Run("extra permission fails", func(t *testing.T) {
		err := e.run(ctx, t, "extra", func(p map[string]*policy) {
			w := p["worker"]
			for i := range w.Statement {
				if w.Statement[i].Sid == "FailDeadLetters" {
					w.Statement[i].Action = append(w.Statement[i].Action, "sqs:SendMessage", "sqs:ChangeMessageVisibility")
				}
			}
		})
		if err == nil || !strings.Contains(err.Error(), "unused grant") {
			t.Fatalf("want an unused-grant failure, got %v", err)
		}
		t.Logf("rejected as expected: %v", firstLine(err))
	})
}

func firstLine(err error) string { s, _, _ := strings.Cut(err.Error(), "\n"); return s }

func setup(ctx context.Context, t *testing.T) *env {
	for _, tool := range []string{"terraform", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	e := &env{bin: t.TempDir()}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", e.bin+"/", "./cmd/api", "./cmd/worker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if e.pg, err = devenv.StartPostgres(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.pg.Stop() })
	if e.motoURL, err = startMoto(ctx, t); err != nil {
		t.Fatal(err)
	}
	e.rec = newRecorder(t, e.motoURL)
	proxy := httptest.NewServer(e.rec)
	t.Cleanup(proxy.Close)
	e.proxyURL = proxy.URL

	// Bedrock: the simulator with auth off, since the credentials the worker
	// signs with come from moto's STS, which the check is about.
	off := false
	sim, err := bedrocksim.New(bedrocksim.Config{Auth: &off, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	e.simURL = simSrv.URL

	e.admin = aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDADMIN", "admin", "")}
	// An administrator, created while moto still lets everything through,
	// for the setup steps of each case after enforcement is on.
	ic := iam.NewFromConfig(e.admin, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.motoURL) })
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	if err != nil {
		t.Fatal(err)
	}
	e.admin.Credentials = credentials.NewStaticCredentialsProvider(*key.AccessKey.AccessKeyId, *key.AccessKey.SecretAccessKey, "")
	// Enforcement on, for every request from now on.
	resp, err := http.Post(e.motoURL+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto reset-auth: %s", resp.Status)
	}
	return e
}

// run is one case: queues and users of its own, the policies rendered by
// Terraform (then changed by mutate), the binaries started under them, and
// the job paths driven. It returns why the case failed, or nil.
func (e *env) run(ctx context.Context, t *testing.T, name string, mutate func(map[string]*policy)) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	prefix := "iam-" + name
	e.rec.reset()
	err := e.exercise(ctx, t, prefix, name, mutate)
	if denied := e.rec.denied(); len(denied) > 0 {
		return fmt.Errorf("AccessDenied on %s\n%v", strings.Join(denied, ", "), err)
	}
	return err
}

func (e *env) exercise(ctx context.Context, t *testing.T, prefix, name string, mutate func(map[string]*policy)) error {

	sqsAdmin := sqs.NewFromConfig(e.admin, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.motoURL) })
	admin := queue.New(sqsAdmin, prefix)
	if err := admin.Resolve(ctx, []string{alias}, true); err != nil {
		t.Fatal(err)
	}
	var queueARNs, dlqARNs []string
	for _, p := range []queue.Priority{queue.Interactive, queue.Batch} {
		n := admin.Name(alias, p)
		queueARNs = append(queueARNs, "arn:aws:sqs:"+region+":"+account+":"+n)
		dlqARNs = append(dlqARNs, "arn:aws:sqs:"+region+":"+account+":"+queue.DLQName(n))
	}
	policies := render(ctx, t, queueARNs, dlqARNs)
	if mutate != nil {
		mutate(policies)
	}

	ic := iam.NewFromConfig(e.admin, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.motoURL) })
	keys := map[string]aws.Credentials{}
	for _, proc := range []string{"api", "worker"} {
		user := prefix + "-" + proc
		doc, _ := json.Marshal(policies[proc])
		if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("task"), PolicyDocument: aws.String(string(doc))}); err != nil {
			t.Fatalf("put %s policy: %v\n%s", proc, err, doc)
		}
		k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		keys[proc] = aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
		e.rec.name(keys[proc].AccessKeyID, proc)
	}
	// The bedrock-caller role trusts the worker's principal with the
	// external id, as modules/bedrock-account-role does for the task role.
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",`+
		`"Principal":{"AWS":"arn:aws:iam::%s:user/%s-worker"},"Condition":{"StringEquals":{"sts:ExternalId":"iam-check"}}}]}`, account, prefix)
	roleARN := callerARN + "-" + name
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bedrock-caller-" + name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	// The rendered worker policy names callerARN; this case's role has its
	// own name, so substitute it.
	for i, s := range policies["worker"].Statement {
		for j, r := range s.Resource {
			if r == callerARN {
				policies["worker"].Statement[i].Resource[j] = roleARN
			}
		}
	}
	doc, _ := json.Marshal(policies["worker"])
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(prefix + "-worker"), PolicyName: aws.String("task"), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}

	db := e.database(ctx, t, prefix)
	cfg := fmt.Sprintf(`models:
  %s: {bedrock_model_id: "%s", default_max_tokens: 64}
accounts:
  - name: home
    region: %s
    role_arn: %s
    external_id: iam-check
    models:
      %s: {tpm: 1000000}
`, alias, modelID, region, roleARN, alias)
	common := []string{
		"DATABASE_URL=" + db, "SLUICE_CONFIG_YAML=" + cfg, "AWS_REGION=" + region,
		"SLUICE_QUEUE_PREFIX=" + prefix, "SLUICE_SQS_ENDPOINT=" + e.proxyURL, "SLUICE_STS_ENDPOINT=" + e.proxyURL,
		"SLUICE_BEDROCK_ENDPOINT=" + e.simURL, "SLUICE_CREATE_QUEUES=false", "SLUICE_LOG_FORMAT=text",
	}
	creds := func(c aws.Credentials) []string {
		return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey}
	}
	metricsPort, _ := devenv.FreePort()
	apiPort, _ := devenv.FreePort()
	worker, err := start(ctx, t, filepath.Join(e.bin, "worker"), append(append(common, creds(keys["worker"])...),
		fmt.Sprintf("SLUICE_METRICS_ADDR=127.0.0.1:%d", metricsPort)), fmt.Sprintf("127.0.0.1:%d", metricsPort))
	if err != nil {
		return err
	}
	defer worker.stop()
	api, err := start(ctx, t, filepath.Join(e.bin, "api"), append(append(common, creds(keys["api"])...),
		fmt.Sprintf("SLUICE_LISTEN_ADDR=127.0.0.1:%d", apiPort), "SLUICE_MASTER_KEY="+masterKey), fmt.Sprintf("127.0.0.1:%d", apiPort))
	if err != nil {
		return err
	}
	defer api.stop()

	if err := e.drive(ctx, t, name, fmt.Sprintf("http://127.0.0.1:%d", apiPort), db, admin, sqsAdmin); err != nil {
		return fmt.Errorf("%w\napi log:\n%s\nworker log:\n%s", err, api.log(), worker.log())
	}
	var unused []string
	for _, proc := range []string{"api", "worker"} {
		for _, g := range policies[proc].grants() {
			if !e.rec.used(proc, g) {
				unused = append(unused, proc+": "+g.String())
			}
		}
	}
	if len(unused) > 0 {
		return fmt.Errorf("unused grant(s), which the deployment must not give: %s", strings.Join(unused, "; "))
	}
	return nil
}

// drive pushes jobs through every path that needs a permission:
//   - a chat completion that fails once transiently (api SendMessage of its
//     queue token; worker ReceiveMessage, DeleteMessage of the spent token;
//     sts:AssumeRole); the janitor reads queue creation times
//     (GetQueueAttributes) every sweep;
//   - a job the api never enqueued (the worker's janitor sends its token);
//   - a job not yet due (a released job's run_after) whose token comes early:
//     the worker puts the token back until the job is due
//     (ChangeMessageVisibility);
//   - a dead-lettered token (the janitor receives it from the DLQ, sends a
//     fresh token to the work queue and deletes the dead one; the job runs);
//   - a batch (the api's runner sends it with SendMessageBatch to the batch
//     queue; workers drain it).
func (e *env) drive(ctx context.Context, t *testing.T, name, apiURL, dbURL string, admin *queue.Queues, sqsAdmin *sqs.Client) error {
	body, _ := json.Marshal(map[string]any{"model": alias, "max_tokens": 16, "messages": []map[string]string{
		{"role": "user", "content": "hello from case " + name + "\n" + bedrocksim.Directive("fail", "ServiceUnavailableException", "fail_times", "1")},
	}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+masterKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("chat completion: %w", err)
	}
	var answer bytes.Buffer
	answer.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("chat completion: %s: %s", resp.Status, answer.String())
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := jobs.NewStore(pool)
	var first string
	if err := pool.QueryRow(ctx, `SELECT id FROM jobs ORDER BY created_at LIMIT 1`).Scan(&first); err != nil {
		return fmt.Errorf("find the chat job: %w", err)
	}
	done, err := store.Get(ctx, first)
	if err != nil {
		return err
	}

	// Not yet due: a token that comes before its job's run_after is put back.
	later := &jobs.Job{ID: jobs.NewID(), Tenant: done.Tenant, Model: done.Model, Priority: done.Priority, Mode: done.Mode, Request: done.Request}
	if err := store.Insert(ctx, later); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `UPDATE jobs SET run_after = now() + interval '3 seconds', enqueued_at = now() WHERE id = $1`, later.ID); err != nil {
		return err
	}
	workURL := strings.TrimSuffix(e.motoURL, "/") + "/" + account + "/" + admin.Name(alias, queue.Interactive)
	token, _ := json.Marshal(queue.Body{JobID: later.ID, Model: alias})
	if _, err := sqsAdmin.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(workURL), MessageBody: aws.String(string(token))}); err != nil {
		return fmt.Errorf("send an early token: %w", err)
	}
	// Alone in the queue, so that the token finds nothing due and is put back.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		l, err := store.Get(ctx, later.ID)
		if err != nil {
			return err
		}
		if l.State == jobs.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the job not yet due is %s after 30 s, want succeeded", l.State)
		}
	}

	// Unsent: recorded, never enqueued, older than the janitor's grace.
	unsent := &jobs.Job{ID: jobs.NewID(), Tenant: done.Tenant, Model: done.Model, Priority: done.Priority, Mode: done.Mode, Request: done.Request}
	if err := store.Insert(ctx, unsent); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `UPDATE jobs SET created_at = now() - interval '1 hour' WHERE id = $1`, unsent.ID); err != nil {
		return err
	}
	// Dead-lettered: enqueued, and its message found in the DLQ.
	dead := &jobs.Job{ID: jobs.NewID(), Tenant: done.Tenant, Model: done.Model, Priority: done.Priority, Mode: done.Mode, Request: done.Request}
	if err := store.Insert(ctx, dead); err != nil {
		return err
	}
	if err := store.MarkEnqueued(ctx, dead.ID); err != nil {
		return err
	}
	dlqURL := strings.TrimSuffix(e.motoURL, "/") + "/" + account + "/" + queue.DLQName(admin.Name(alias, queue.Interactive))
	msg, _ := json.Marshal(queue.Body{JobID: dead.ID, Model: alias})
	if _, err := sqsAdmin.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String(string(msg))}); err != nil {
		return fmt.Errorf("send to the DLQ: %w", err)
	}

	// A batch: the api's runner enqueues it with SendMessageBatch on the
	// batch queue, which workers drain.
	client := openai.NewClient(option.WithBaseURL(apiURL+"/v1"), option.WithAPIKey(masterKey), option.WithMaxRetries(0))
	var lines strings.Builder
	for i := range 3 {
		line, _ := json.Marshal(map[string]any{"custom_id": fmt.Sprint(i), "method": "POST", "url": "/v1/chat/completions",
			"body": map[string]any{"model": alias, "max_tokens": 8, "messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("batch %s %d", name, i)}}}})
		lines.Write(append(line, '\n'))
	}
	file, err := client.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(lines.String()), "in.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		return fmt.Errorf("upload batch input: %w", err)
	}
	batch, err := client.Batches.New(ctx, openai.BatchNewParams{InputFileID: file.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}

	deadline := time.Now().Add(90 * time.Second)
	for {
		u, err1 := store.Get(ctx, unsent.ID)
		d, err2 := store.Get(ctx, dead.ID)
		b, err3 := client.Batches.Get(ctx, batch.ID)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("read jobs and batch: %v %v %v", err1, err2, err3)
		}
		if u.State == jobs.Succeeded && d.State == jobs.Succeeded && b.Status == openai.BatchStatusCompleted {
			if b.RequestCounts.Completed != 3 {
				return fmt.Errorf("batch completed with %+v, want 3 completed", b.RequestCounts)
			}
			return nil
		}
		if b.Status == openai.BatchStatusFailed || b.Status == openai.BatchStatusExpired {
			return fmt.Errorf("batch %s: %s", b.Status, b.RawJSON())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 90s: the unsent job is %s, the dead-lettered one %s (want both succeeded), the batch %s (want completed)", u.State, d.State, b.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// database creates a database of its own for a case.
func (e *env) database(ctx context.Context, t *testing.T, name string) string {
	pool, err := pgxpool.New(ctx, e.pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := strings.ReplaceAll(name, "-", "_")
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	return e.pg.URL(db)
}

// render runs Terraform on infra/tests/iam, which calls the same module the
// iam module attaches its policies from.
func render(ctx context.Context, t *testing.T, queueARNs, dlqARNs []string) map[string]*policy {
	data := t.TempDir()
	vars := func(name string, v any) string { b, _ := json.Marshal(v); return "-var=" + name + "=" + string(b) }
	tf := func(args ...string) []byte {
		cmd := exec.CommandContext(ctx, "terraform", args...)
		cmd.Env = append(os.Environ(), "TF_DATA_DIR="+data, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s%s", args[0], err, out, stderr.Bytes())
		}
		return out
	}
	tf("init", "-no-color", "-input=false")
	tf("plan", "-no-color", "-input=false", "-out="+data+"/plan", vars("queue_arns", queueARNs), vars("dlq_arns", dlqARNs),
		vars("bedrock_caller_role_arns", []string{callerARN}))
	var shown struct {
		PlannedValues struct {
			Outputs map[string]struct{ Value string } `json:"outputs"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal(tf("show", "-json", data+"/plan"), &shown); err != nil {
		t.Fatal(err)
	}
	out := map[string]*policy{}
	for _, proc := range []string{"api", "worker"} {
		var p policy
		if err := json.Unmarshal([]byte(shown.PlannedValues.Outputs[proc].Value), &p); err != nil {
			t.Fatalf("%s policy: %v", proc, err)
		}
		out[proc] = &p
	}
	return out
}
