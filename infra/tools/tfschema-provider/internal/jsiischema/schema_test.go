package jsiischema

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

// TestGeneratedSchema checks facts of the real AWS provider's schema in the
// generated document. scripts/check-infra sets TFSCHEMA_FILE.
func TestGeneratedSchema(t *testing.T) {
	path := os.Getenv("TFSCHEMA_FILE")
	if path == "" {
		t.Skip("TFSCHEMA_FILE not set (scripts/check-infra sets it)")
	}
	doc, err := tfjson.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := doc.ProviderSchemas["registry.terraform.io/hashicorp/aws"]
	if ps == nil {
		t.Fatal("no hashicorp/aws schema")
	}
	if n := len(ps.ResourceSchemas); n < 1500 {
		t.Errorf("%d resources, want the whole provider (> 1500)", n)
	}
	res := func(name string) *tfjson.Block {
		t.Helper()
		s := ps.ResourceSchemas[name]
		if s == nil {
			t.Fatalf("no resource %s", name)
		}
		return s.Block
	}
	typ := func(a *tfjson.Attribute) string {
		b, _ := json.Marshal(a.Type)
		return string(b)
	}

	q := res("aws_sqs_queue")
	if a := q.Attributes["arn"]; a == nil || !a.Computed || a.Optional || typ(a) != `"string"` {
		t.Errorf("aws_sqs_queue.arn = %+v, want computed string", a)
	}
	if a := q.Attributes["visibility_timeout_seconds"]; a == nil || !a.Optional || typ(a) != `"number"` {
		t.Errorf("aws_sqs_queue.visibility_timeout_seconds = %+v, want optional number", a)
	}
	if a := res("aws_iam_role").Attributes["assume_role_policy"]; a == nil || !a.Required {
		t.Errorf("aws_iam_role.assume_role_policy = %+v, want required", a)
	}

	svc := res("aws_ecs_service")
	if b := svc.BlockTypes["load_balancer"]; b == nil || b.NestingMode != "set" {
		t.Errorf("aws_ecs_service.load_balancer = %+v, want a set of blocks", b)
	}
	if b := svc.BlockTypes["network_configuration"]; b == nil || b.NestingMode != "list" || b.MaxItems != 1 {
		t.Errorf("aws_ecs_service.network_configuration = %+v, want a list of at most 1", b)
	} else if a := b.Block.Attributes["subnets"]; a == nil || !a.Required || typ(a) != `["set","string"]` {
		t.Errorf("network_configuration.subnets = %+v, want required set of string", a)
	}
	if b := svc.BlockTypes["timeouts"]; b == nil || b.NestingMode != "single" {
		t.Errorf("aws_ecs_service.timeouts = %+v, want a single block", b)
	}

	if a := res("aws_rds_cluster").Attributes["master_user_secret"]; a == nil || !a.Computed ||
		typ(a) != `["list",["object",{"kms_key_id":"string","secret_arn":"string","secret_status":"string"}]]` {
		t.Errorf("aws_rds_cluster.master_user_secret = %s", typ(a))
	}
	if a := res("aws_rds_cluster").Attributes["master_password_wo"]; a == nil || !a.WriteOnly {
		t.Errorf("aws_rds_cluster.master_password_wo = %+v, want write-only", a)
	}

	pd := ps.DataSourceSchemas["aws_iam_policy_document"]
	if pd == nil || pd.Block.BlockTypes["statement"] == nil ||
		pd.Block.BlockTypes["statement"].Block.BlockTypes["condition"].NestingMode != "set" {
		t.Errorf("aws_iam_policy_document.statement.condition should be a set of blocks")
	}
	if ps.Provider == nil || ps.Provider.Block.Attributes["region"] == nil || ps.Provider.Block.Attributes["alias"] != nil {
		t.Errorf("provider block: want region, and no alias (a meta-argument)")
	}
	if ps.EphemeralResourceSchemas["aws_secretsmanager_random_password"] == nil {
		t.Errorf("ephemeral resources missing")
	}
}
