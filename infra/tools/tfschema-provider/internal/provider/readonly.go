package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// readOnly reports configured values for computed-only attributes. Terraform
// core decodes them without complaint; the real providers reject them in
// their own validation (SDKv2: "this field cannot be set", the plugin
// framework: "Invalid Configuration for Read-Only Attribute"), so this does
// the same.
func readOnly(schema *tfprotov6.Schema, config *tfprotov6.DynamicValue) []*tfprotov6.Diagnostic {
	if schema == nil || config == nil {
		return nil
	}
	val, err := config.Unmarshal(schema.ValueType())
	if err != nil {
		return []*tfprotov6.Diagnostic{{
			Severity: tfprotov6.DiagnosticSeverityError,
			Summary:  "Cannot decode configuration",
			Detail:   err.Error(),
		}}
	}
	var diags []*tfprotov6.Diagnostic
	walkBlock(schema.Block, val, tftypes.NewAttributePath(), &diags)
	return diags
}

func walkBlock(b *tfprotov6.SchemaBlock, val tftypes.Value, path *tftypes.AttributePath, diags *[]*tfprotov6.Diagnostic) {
	fields, ok := object(val)
	if !ok {
		return
	}
	walkAttributes(b.Attributes, fields, path, diags)
	for _, nb := range b.BlockTypes {
		walkNested(nb.Nesting == tfprotov6.SchemaNestedBlockNestingModeSingle || nb.Nesting == tfprotov6.SchemaNestedBlockNestingModeGroup,
			fields[nb.TypeName], path.WithAttributeName(nb.TypeName),
			func(v tftypes.Value, p *tftypes.AttributePath) { walkBlock(nb.Block, v, p, diags) })
	}
}

func walkAttributes(attrs []*tfprotov6.SchemaAttribute, fields map[string]tftypes.Value, path *tftypes.AttributePath, diags *[]*tfprotov6.Diagnostic) {
	for _, a := range attrs {
		v, ok := fields[a.Name]
		if !ok || v.IsNull() {
			continue
		}
		p := path.WithAttributeName(a.Name)
		if a.Computed && !a.Optional && !a.Required {
			*diags = append(*diags, &tfprotov6.Diagnostic{
				Severity:  tfprotov6.DiagnosticSeverityError,
				Summary:   "Invalid Configuration for Read-Only Attribute",
				Detail:    fmt.Sprintf("Cannot set value for %q: the provider computes it (read-only). Remove the configuration line setting the value.", a.Name),
				Attribute: p,
			})
			continue
		}
		if a.NestedType != nil {
			walkNested(a.NestedType.Nesting == tfprotov6.SchemaObjectNestingModeSingle, v, p,
				func(ev tftypes.Value, ep *tftypes.AttributePath) {
					if inner, ok := object(ev); ok {
						walkAttributes(a.NestedType.Attributes, inner, ep, diags)
					}
				})
		}
	}
}

// walkNested calls fn for the object (single) or each element of a list,
// set or map value.
func walkNested(single bool, v tftypes.Value, p *tftypes.AttributePath, fn func(tftypes.Value, *tftypes.AttributePath)) {
	if v.IsNull() || !v.IsKnown() {
		return
	}
	if single {
		fn(v, p)
		return
	}
	switch {
	case v.Type().Is(tftypes.List{}):
		var elems []tftypes.Value
		if v.As(&elems) == nil {
			for i, e := range elems {
				fn(e, p.WithElementKeyInt(i))
			}
		}
	case v.Type().Is(tftypes.Set{}):
		var elems []tftypes.Value
		if v.As(&elems) == nil {
			for _, e := range elems {
				fn(e, p.WithElementKeyValue(e))
			}
		}
	case v.Type().Is(tftypes.Map{}):
		var elems map[string]tftypes.Value
		if v.As(&elems) == nil {
			for k, e := range elems {
				fn(e, p.WithElementKeyString(k))
			}
		}
	}
}

func object(v tftypes.Value) (map[string]tftypes.Value, bool) {
	if v.IsNull() || !v.IsKnown() || !v.Type().Is(tftypes.Object{}) {
		return nil, false
	}
	var fields map[string]tftypes.Value
	if err := v.As(&fields); err != nil {
		return nil, false
	}
	return fields, true
}
