package provider

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

// ctyType parses a type in cty's JSON form: "string", ["list", T],
// ["object", {name: T}], ["tuple", [T...]], "dynamic".
func ctyType(raw json.RawMessage) (tftypes.Type, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		switch name {
		case "string":
			return tftypes.String, nil
		case "number":
			return tftypes.Number, nil
		case "bool":
			return tftypes.Bool, nil
		case "dynamic":
			return tftypes.DynamicPseudoType, nil
		}
		return nil, fmt.Errorf("unknown type %q", name)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != 2 {
		return nil, fmt.Errorf("malformed type %s", raw)
	}
	if err := json.Unmarshal(parts[0], &name); err != nil {
		return nil, fmt.Errorf("malformed type %s", raw)
	}
	switch name {
	case "list", "set", "map":
		elem, err := ctyType(parts[1])
		if err != nil {
			return nil, err
		}
		switch name {
		case "list":
			return tftypes.List{ElementType: elem}, nil
		case "set":
			return tftypes.Set{ElementType: elem}, nil
		}
		return tftypes.Map{ElementType: elem}, nil
	case "object":
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(parts[1], &attrs); err != nil {
			return nil, fmt.Errorf("malformed object type %s", raw)
		}
		out := tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}
		for k, v := range attrs {
			t, err := ctyType(v)
			if err != nil {
				return nil, err
			}
			out.AttributeTypes[k] = t
		}
		return out, nil
	case "tuple":
		var elems []json.RawMessage
		if err := json.Unmarshal(parts[1], &elems); err != nil {
			return nil, fmt.Errorf("malformed tuple type %s", raw)
		}
		out := tftypes.Tuple{}
		for _, e := range elems {
			t, err := ctyType(e)
			if err != nil {
				return nil, err
			}
			out.ElementTypes = append(out.ElementTypes, t)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown type %s", raw)
}

func protoSchema(s *tfjson.Schema) (*tfprotov6.Schema, error) {
	b, err := protoBlock(s.Block)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.Schema{Version: s.Version, Block: b}, nil
}

func protoBlock(b *tfjson.Block) (*tfprotov6.SchemaBlock, error) {
	out := &tfprotov6.SchemaBlock{}
	if b == nil {
		return out, nil
	}
	attrs, err := protoAttributes(b.Attributes)
	if err != nil {
		return nil, err
	}
	out.Attributes = attrs
	for _, name := range sortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[name]
		inner, err := protoBlock(nb.Block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		mode, err := blockNesting(nb.NestingMode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov6.SchemaNestedBlock{
			TypeName: name, Block: inner, Nesting: mode, MinItems: nb.MinItems, MaxItems: nb.MaxItems,
		})
	}
	return out, nil
}

func protoAttributes(attrs map[string]*tfjson.Attribute) ([]*tfprotov6.SchemaAttribute, error) {
	var out []*tfprotov6.SchemaAttribute
	for _, name := range sortedKeys(attrs) {
		a := attrs[name]
		pa := &tfprotov6.SchemaAttribute{
			Name: name, Required: a.Required, Optional: a.Optional, Computed: a.Computed,
			Sensitive: a.Sensitive, Deprecated: a.Deprecated, WriteOnly: a.WriteOnly,
		}
		switch {
		case a.NestedType != nil:
			inner, err := protoAttributes(a.NestedType.Attributes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			mode, err := objectNesting(a.NestedType.NestingMode)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			pa.NestedType = &tfprotov6.SchemaObject{Attributes: inner, Nesting: mode}
		case len(a.Type) > 0:
			t, err := ctyType(a.Type)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			pa.Type = t
		default:
			return nil, fmt.Errorf("%s: attribute has neither type nor nested_type", name)
		}
		out = append(out, pa)
	}
	return out, nil
}

func blockNesting(s string) (tfprotov6.SchemaNestedBlockNestingMode, error) {
	switch s {
	case "single":
		return tfprotov6.SchemaNestedBlockNestingModeSingle, nil
	case "list":
		return tfprotov6.SchemaNestedBlockNestingModeList, nil
	case "set":
		return tfprotov6.SchemaNestedBlockNestingModeSet, nil
	case "map":
		return tfprotov6.SchemaNestedBlockNestingModeMap, nil
	case "group":
		return tfprotov6.SchemaNestedBlockNestingModeGroup, nil
	}
	return 0, fmt.Errorf("unknown block nesting mode %q", s)
}

func objectNesting(s string) (tfprotov6.SchemaObjectNestingMode, error) {
	switch s {
	case "single":
		return tfprotov6.SchemaObjectNestingModeSingle, nil
	case "list":
		return tfprotov6.SchemaObjectNestingModeList, nil
	case "set":
		return tfprotov6.SchemaObjectNestingModeSet, nil
	case "map":
		return tfprotov6.SchemaObjectNestingModeMap, nil
	}
	return 0, fmt.Errorf("unknown attribute nesting mode %q", s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
