package provider

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

func TestCtyType(t *testing.T) {
	for in, want := range map[string]tftypes.Type{
		`"string"`:                      tftypes.String,
		`["set","number"]`:              tftypes.Set{ElementType: tftypes.Number},
		`["map",["list","bool"]]`:       tftypes.Map{ElementType: tftypes.List{ElementType: tftypes.Bool}},
		`["object",{"a":"dynamic"}]`:    tftypes.Object{AttributeTypes: map[string]tftypes.Type{"a": tftypes.DynamicPseudoType}},
		`["tuple",["string","number"]]`: tftypes.Tuple{ElementTypes: []tftypes.Type{tftypes.String, tftypes.Number}},
	} {
		got, err := ctyType(json.RawMessage(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !got.Equal(want) {
			t.Errorf("%s = %s, want %s", in, got, want)
		}
	}
	if _, err := ctyType(json.RawMessage(`"strng"`)); err == nil {
		t.Error("unknown type accepted")
	}
}

func testServer(t *testing.T) *Server {
	t.Helper()
	doc := &tfjson.Document{ProviderSchemas: map[string]*tfjson.ProviderSchema{"registry.terraform.io/hashicorp/aws": {
		Provider: &tfjson.Schema{Block: &tfjson.Block{Attributes: map[string]*tfjson.Attribute{"region": {Type: tfjson.String, Optional: true}}}},
		ResourceSchemas: map[string]*tfjson.Schema{"aws_thing": {Block: &tfjson.Block{
			Attributes: map[string]*tfjson.Attribute{
				"name": {Type: tfjson.String, Required: true},
				"arn":  {Type: tfjson.String, Computed: true},
			},
			BlockTypes: map[string]*tfjson.NestedBlock{"part": {NestingMode: "list", Block: &tfjson.Block{
				Attributes: map[string]*tfjson.Attribute{"id": {Type: tfjson.String, Computed: true}, "size": {Type: tfjson.Number, Optional: true}},
			}}},
		}}},
	}}}
	s, err := New(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateRejectsReadOnlyAttributes(t *testing.T) {
	s := testServer(t)
	schema := s.resources["aws_thing"]
	partType := schema.Block.BlockTypes[0].Block.ValueType()
	cfg := func(arn, partID tftypes.Value) *tfprotov6.DynamicValue {
		v := tftypes.NewValue(schema.ValueType(), map[string]tftypes.Value{
			"name": tftypes.NewValue(tftypes.String, "x"),
			"arn":  arn,
			"part": tftypes.NewValue(tftypes.List{ElementType: partType}, []tftypes.Value{
				tftypes.NewValue(partType, map[string]tftypes.Value{"id": partID, "size": tftypes.NewValue(tftypes.Number, 1)}),
			}),
		})
		dv, err := tfprotov6.NewDynamicValue(schema.ValueType(), v)
		if err != nil {
			t.Fatal(err)
		}
		return &dv
	}
	null := tftypes.NewValue(tftypes.String, nil)
	resp, _ := s.ValidateResourceConfig(context.Background(), &tfprotov6.ValidateResourceConfigRequest{TypeName: "aws_thing", Config: cfg(null, null)})
	if len(resp.Diagnostics) != 0 {
		t.Errorf("valid config: %v", resp.Diagnostics[0].Detail)
	}
	resp, _ = s.ValidateResourceConfig(context.Background(), &tfprotov6.ValidateResourceConfigRequest{
		TypeName: "aws_thing", Config: cfg(tftypes.NewValue(tftypes.String, "arn:x"), tftypes.NewValue(tftypes.String, "p")),
	})
	if len(resp.Diagnostics) != 2 {
		t.Fatalf("got %d diagnostics, want 2 (arn and part[0].id)", len(resp.Diagnostics))
	}
	if got := resp.Diagnostics[1].Attribute.String(); got != `AttributeName("part").ElementKeyInt(0).AttributeName("id")` {
		t.Errorf("second diagnostic path = %s", got)
	}
}

func TestOperationsFailLoudly(t *testing.T) {
	s := testServer(t)
	resp, _ := s.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{})
	if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Severity != tfprotov6.DiagnosticSeverityError {
		t.Error("ConfigureProvider must fail: this provider cannot reach AWS")
	}
	plan, _ := s.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{})
	if len(plan.Diagnostics) != 1 {
		t.Error("PlanResourceChange must fail")
	}
}
