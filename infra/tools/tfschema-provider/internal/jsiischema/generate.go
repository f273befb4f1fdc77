// Package jsiischema turns the jsii assembly of a cdktn (CDK for Terraform)
// prebuilt provider package, such as @cdktn/provider-aws, back into the
// provider's Terraform schema.
//
// cdktn generates one TypeScript class per resource from the provider's own
// schema, so the assembly keeps what `terraform validate` needs: every
// argument with its type and whether it is required, every nested block, and
// the computed attributes that can be referenced. The package's compiled
// JavaScript adds what the type system flattens: list versus set, the nesting
// mode of blocks, and the exact Terraform names of computed attributes.
//
// What cannot be recovered: sensitivity, deprecation, conflicts between
// arguments and value validators (enums, ranges, regexps) — those live in the
// provider's Go code, not in its schema, or are lost by cdktn.
package jsiischema

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

// Result is a generated schema and what it came from.
type Result struct {
	Document        *tfjson.Document
	Package         string // e.g. @cdktn/provider-aws@25.7.0
	ProviderAddress string // e.g. registry.terraform.io/hashicorp/aws
	ProviderVersion string // version of the Terraform provider cdktn generated from
}

// FromTarball reads an npm package tarball (npm pack output) and generates
// the provider schema from its .jsii and lib/**/index.js.
func FromTarball(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var (
		asm *assembly
		pkg struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Cdktf   struct {
				Provider struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"provider"`
			} `json:"cdktf"`
		}
		js = map[string]*jsInfo{}
	)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimPrefix(h.Name, "package/")
		switch {
		case name == ".jsii":
			asm = new(assembly)
			if err := json.NewDecoder(tr).Decode(asm); err != nil {
				return nil, fmt.Errorf("%s: decode .jsii: %w", path, err)
			}
		case name == "package.json":
			if err := json.NewDecoder(tr).Decode(&pkg); err != nil {
				return nil, fmt.Errorf("%s: decode package.json: %w", path, err)
			}
		case strings.HasPrefix(name, "lib/") && strings.HasSuffix(name, "/index.js") && strings.Count(name, "/") == 2:
			info, err := parseJS(tr)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			js[strings.TrimSuffix(strings.TrimPrefix(name, "lib/"), "/index.js")] = info
		}
	}
	if asm == nil {
		return nil, fmt.Errorf("%s: no .jsii assembly in the package", path)
	}
	addr := pkg.Cdktf.Provider.Name
	if addr == "" {
		addr = "registry.terraform.io/hashicorp/aws"
	}
	doc, err := generate(asm, js, addr)
	if err != nil {
		return nil, err
	}
	return &Result{
		Document:        doc,
		Package:         pkg.Name + "@" + pkg.Version,
		ProviderAddress: addr,
		ProviderVersion: pkg.Cdktf.Provider.Version,
	}, nil
}

var reRepresents = regexp.MustCompile(`\{@link https://registry\.terraform\.io/providers/[^ ]+?/docs(?:/(resources|data-sources|ephemeral-resources)/\S+)? ([a-z0-9_]+)\}`)

type generator struct {
	types   map[string]*jsiiType
	js      map[string]*jsInfo
	objects map[string]json.RawMessage // computed object types by class FQN
	busy    map[string]bool            // recursion guard
}

func generate(asm *assembly, js map[string]*jsInfo, addr string) (*tfjson.Document, error) {
	g := &generator{types: asm.Types, js: js, objects: map[string]json.RawMessage{}, busy: map[string]bool{}}
	ps := &tfjson.ProviderSchema{
		ResourceSchemas:          map[string]*tfjson.Schema{},
		DataSourceSchemas:        map[string]*tfjson.Schema{},
		EphemeralResourceSchemas: map[string]*tfjson.Schema{},
	}
	fqns := make([]string, 0, len(asm.Types))
	for fqn := range asm.Types {
		fqns = append(fqns, fqn)
	}
	sort.Strings(fqns)
	for _, fqn := range fqns {
		t := asm.Types[fqn]
		if t.Kind != "class" {
			continue
		}
		var dest map[string]*tfjson.Schema
		switch t.Base {
		case "cdktn.TerraformResource":
			dest = ps.ResourceSchemas
		case "cdktn.TerraformDataSource":
			dest = ps.DataSourceSchemas
		case "cdktn.TerraformEphemeralResource":
			dest = ps.EphemeralResourceSchemas
		case "cdktn.TerraformProvider":
		default:
			continue
		}
		m := reRepresents.FindStringSubmatch(t.Docs.Summary)
		if m == nil {
			return nil, fmt.Errorf("%s: cannot find the Terraform type name in %q", fqn, t.Docs.Summary)
		}
		cfg := configType(t)
		if cfg == "" {
			return nil, fmt.Errorf("%s: no config parameter", fqn)
		}
		block, err := g.block(cfg, fqn, t.Base == "cdktn.TerraformProvider")
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", m[2], fqn, err)
		}
		relaxDynamicSets(block)
		s := &tfjson.Schema{Block: block}
		if dest == nil {
			ps.Provider = s
			continue
		}
		if _, dup := dest[m[2]]; dup {
			return nil, fmt.Errorf("%s: %s defined twice", fqn, m[2])
		}
		dest[m[2]] = s
	}
	if ps.Provider == nil {
		return nil, fmt.Errorf("the package has no provider class")
	}
	if len(ps.ResourceSchemas) == 0 {
		return nil, fmt.Errorf("the package has no resource classes")
	}
	return &tfjson.Document{FormatVersion: "1.0", ProviderSchemas: map[string]*tfjson.ProviderSchema{addr: ps}}, nil
}

func configType(t *jsiiType) string {
	if t.Initializer == nil {
		return ""
	}
	for _, p := range t.Initializer.Parameters {
		if p.Name == "config" {
			return p.Type.FQN
		}
	}
	return ""
}

// Names cdktn adds to classes that are not schema attributes.
var notAttributes = map[string]bool{"internalValue": true, "tfResourceType": true, "fqn": true}

var reAnchor = regexp.MustCompile(`#([A-Za-z0-9_]+) [A-Za-z0-9]+#`)

// tfName is the Terraform name of a struct property: the anchor of its
// registry docs link, else the name the JavaScript getter reads, else
// snake_case.
func (g *generator) tfName(p property, gi getterInfo) string {
	if m := reAnchor.FindStringSubmatch(p.Docs.Summary + " " + p.Docs.Remarks); m != nil {
		return m[1]
	}
	if gi.tfName != "" {
		return gi.tfName
	}
	return snake(p.Name)
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func lower(s string) string { return strings.ToLower(s) }

// block builds the schema of a configuration struct (the resource's Config
// interface or a nested block's struct) together with the computed attributes
// that its output class (the resource class or the block's OutputReference)
// exposes.
func (g *generator) block(structFQN, outFQN string, isProvider bool) (*tfjson.Block, error) {
	st := g.types[structFQN]
	if st == nil {
		return nil, fmt.Errorf("unknown type %s", structFQN)
	}
	g.busy["struct:"+structFQN] = true
	defer delete(g.busy, "struct:"+structFQN)
	out := g.types[outFQN]
	js := g.js[st.dir()]
	var hcl map[string]hclEntry
	var getters map[string]getterInfo
	if js != nil {
		ctx := lower(st.Name)
		if out != nil && (out.Base == "cdktn.TerraformResource" || out.Base == "cdktn.TerraformDataSource" ||
			out.Base == "cdktn.TerraformEphemeralResource" || out.Base == "cdktn.TerraformProvider") {
			ctx = lower(out.Name)
		}
		hcl = js.hcl[ctx]
		if out != nil {
			getters = js.getters[lower(out.Name)]
		}
	}
	b := &tfjson.Block{Attributes: map[string]*tfjson.Attribute{}, BlockTypes: map[string]*tfjson.NestedBlock{}}
	settable := map[string]bool{}
	for _, p := range st.Properties {
		settable[p.Name] = true
		if isProvider && p.Name == "alias" {
			continue // a meta-argument in HCL, a property in cdktn
		}
		gi := getters[p.Name]
		name := g.tfName(p, gi)
		he, hasHCL := hcl[name]
		t := p.Type.withoutResolvable()
		elemStruct, kind := g.structOf(t)
		if elemStruct != "" && g.busy["struct:"+elemStruct] {
			// A struct that contains itself (cdktn models a few recursive
			// schemas this way): accept any value below this depth.
			b.Attributes[name] = &tfjson.Attribute{Type: tfjson.Dynamic, Optional: p.Optional, Required: !p.Optional}
			continue
		}
		if elemStruct != "" {
			isBlock := strings.HasSuffix(p.Docs.Summary, " block.")
			if hasHCL {
				isBlock = he.isBlock
			}
			nesting := he.kind
			if !hasHCL || nesting == "simple" {
				nesting = map[string]string{"direct": "list", "array": "list", "map": "map"}[kind]
				if kind == "direct" && (name == "timeouts" || !isBlock) {
					nesting = "struct"
				}
			}
			if nesting == "struct" {
				nesting = "single"
			}
			if isBlock {
				nb, err := g.block(elemStruct, elemStruct+"OutputReference", false)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				bt := &tfjson.NestedBlock{NestingMode: nesting, Block: nb}
				switch nesting {
				case "list", "set":
					if kind == "direct" {
						bt.MaxItems = 1
					}
					if !p.Optional {
						bt.MinItems = 1
					}
				case "single":
					if !p.Optional { // Terraform wants both 0 or both 1 here
						bt.MinItems, bt.MaxItems = 1, 1
					}
				} // map blocks take no limits
				b.BlockTypes[name] = bt
				continue
			}
			attrs, err := g.nestedAttributes(elemStruct)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			b.Attributes[name] = &tfjson.Attribute{
				NestedType: &tfjson.NestedType{Attributes: attrs, NestingMode: nesting},
				Required:   !p.Optional, Optional: p.Optional, Computed: p.Optional && gi.computed,
			}
			continue
		}
		if p.Type.Primitive == "any" && strings.HasSuffix(p.Docs.Summary, " block.") {
			// cdktn cut a deeply recursive block off at this depth and typed
			// it as anything; accept any value rather than reject valid HCL.
			b.Attributes[name] = &tfjson.Attribute{Type: tfjson.Dynamic, Optional: true}
			continue
		}
		ty, err := g.valueType(t, hasHCL && he.kind == "set")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.Attributes[name] = &tfjson.Attribute{
			Type:     ty,
			Required: !p.Optional, Optional: p.Optional, Computed: p.Optional && gi.computed,
			WriteOnly: strings.HasPrefix(g.classDeprecation(out, p.Name), "Write-only"),
		}
	}
	if out != nil {
		for _, p := range out.Properties {
			if p.Static || settable[p.Name] || notAttributes[p.Name] || strings.HasSuffix(p.Name, "Input") {
				continue
			}
			gi := getters[p.Name]
			name := gi.tfName
			if name == "" {
				name = snake(p.Name)
			}
			if b.Attributes[name] != nil || b.BlockTypes[name] != nil {
				continue
			}
			ty, err := g.computedType(p.Type, gi.set)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if ty == nil {
				continue
			}
			b.Attributes[name] = &tfjson.Attribute{Type: ty, Computed: true}
		}
	}
	if len(b.Attributes) == 0 {
		b.Attributes = nil
	}
	if len(b.BlockTypes) == 0 {
		b.BlockTypes = nil
	}
	return b, nil
}

func (g *generator) classDeprecation(out *jsiiType, name string) string {
	if out == nil {
		return ""
	}
	for _, p := range out.Properties {
		if p.Name == name && !strings.HasSuffix(p.Name, "Input") {
			return p.Docs.Deprecated
		}
	}
	return ""
}

// nestedAttributes is the attribute set of a nested-attribute object type
// (protocol 6), whose members are all attributes.
func (g *generator) nestedAttributes(structFQN string) (map[string]*tfjson.Attribute, error) {
	b, err := g.block(structFQN, structFQN+"OutputReference", false)
	if err != nil {
		return nil, err
	}
	attrs := b.Attributes
	if attrs == nil {
		attrs = map[string]*tfjson.Attribute{}
	}
	for name, nb := range b.BlockTypes { // should not happen: nested attributes nest attributes
		inner := nb.Block.Attributes
		if inner == nil {
			inner = map[string]*tfjson.Attribute{}
		}
		attrs[name] = &tfjson.Attribute{NestedType: &tfjson.NestedType{Attributes: inner, NestingMode: nb.NestingMode}, Optional: true}
	}
	return attrs, nil
}

// structOf says whether t is a struct, an array of structs or a map of
// structs, and which struct.
func (g *generator) structOf(t typeRef) (fqn, kind string) {
	isStruct := func(f string) bool {
		st := g.types[f]
		return st != nil && st.Kind == "interface" && st.Datatype
	}
	if t.FQN != "" && isStruct(t.FQN) {
		return t.FQN, "direct"
	}
	if c := t.Collection; c != nil {
		e := c.ElementType.withoutResolvable()
		if e.FQN != "" && isStruct(e.FQN) {
			if c.Kind == "map" {
				return e.FQN, "map"
			}
			return e.FQN, "array"
		}
	}
	return "", ""
}

// valueType is the cty type of a settable attribute's value.
func (g *generator) valueType(t typeRef, set bool) (json.RawMessage, error) {
	t = t.withoutResolvable()
	switch {
	case t.Primitive != "":
		return primitive(t.Primitive)
	case t.Collection != nil:
		elem, err := g.valueType(t.Collection.ElementType, false)
		if err != nil {
			return nil, err
		}
		if t.Collection.Kind == "map" {
			return tfjson.Collection("map", elem), nil
		}
		if set {
			return tfjson.Collection("set", elem), nil
		}
		return tfjson.Collection("list", elem), nil
	case t.FQN == "cdktn.IResolvable":
		return tfjson.Dynamic, nil
	}
	return nil, fmt.Errorf("unsupported argument type %+v", t)
}

func primitive(p string) (json.RawMessage, error) {
	switch p {
	case "string":
		return tfjson.String, nil
	case "number":
		return tfjson.Number, nil
	case "boolean":
		return tfjson.Bool, nil
	case "any", "json":
		return tfjson.Dynamic, nil
	}
	return nil, fmt.Errorf("unsupported primitive %q", p)
}

// cdktn's map and list wrapper classes for computed values.
var cdktnCollections = map[string]json.RawMessage{
	"cdktn.StringMap":      tfjson.Collection("map", tfjson.String),
	"cdktn.NumberMap":      tfjson.Collection("map", tfjson.Number),
	"cdktn.BooleanMap":     tfjson.Collection("map", tfjson.Bool),
	"cdktn.AnyMap":         tfjson.Collection("map", tfjson.Dynamic),
	"cdktn.StringMapList":  tfjson.Collection("list", tfjson.Collection("map", tfjson.String)),
	"cdktn.NumberMapList":  tfjson.Collection("list", tfjson.Collection("map", tfjson.Number)),
	"cdktn.BooleanMapList": tfjson.Collection("list", tfjson.Collection("map", tfjson.Bool)),
	"cdktn.AnyMapList":     tfjson.Collection("list", tfjson.Collection("map", tfjson.Dynamic)),
	"cdktn.StringListMap":  tfjson.Collection("map", tfjson.Collection("list", tfjson.String)),
	"cdktn.NumberListMap":  tfjson.Collection("map", tfjson.Collection("list", tfjson.Number)),
	"cdktn.BooleanListMap": tfjson.Collection("map", tfjson.Collection("list", tfjson.Bool)),
	"cdktn.AnyListMap":     tfjson.Collection("map", tfjson.Collection("list", tfjson.Dynamic)),
	"cdktn.StringListList": tfjson.Collection("list", tfjson.Collection("list", tfjson.String)),
	"cdktn.NumberListList": tfjson.Collection("list", tfjson.Collection("list", tfjson.Number)),
}

// computedType is the cty type of a computed-only attribute, from the type
// of its getter. A nil type means the getter is not an attribute.
func (g *generator) computedType(t typeRef, set bool) (json.RawMessage, error) {
	if t.FQN == "cdktn.IResolvable" {
		return tfjson.Bool, nil // cdktn returns computed booleans as tokens
	}
	if t.Union != nil {
		return g.computedType(t.withoutResolvable(), set)
	}
	if t.Primitive != "" || t.Collection != nil {
		return g.valueType(t, set)
	}
	if ty, ok := cdktnCollections[t.FQN]; ok {
		return ty, nil
	}
	c := g.types[t.FQN]
	if c == nil || c.Kind != "class" {
		return nil, nil
	}
	switch c.Base {
	case "cdktn.ComplexList", "cdktn.ComplexMap":
		var elem string
		for _, m := range c.Methods {
			if m.Name == "get" && m.Returns != nil {
				elem = m.Returns.Type.FQN
			}
		}
		if elem == "" {
			return nil, nil
		}
		obj, err := g.objectType(elem)
		if err != nil || obj == nil {
			return nil, err
		}
		switch {
		case c.Base == "cdktn.ComplexMap":
			return tfjson.Collection("map", obj), nil
		case set:
			return tfjson.Collection("set", obj), nil
		}
		return tfjson.Collection("list", obj), nil
	case "cdktn.ComplexObject":
		return g.objectType(t.FQN)
	}
	return nil, nil
}

// objectType is the object type of an OutputReference class: all its
// attributes, settable or not.
func (g *generator) objectType(classFQN string) (json.RawMessage, error) {
	if ty, ok := g.objects[classFQN]; ok {
		return ty, nil
	}
	if g.busy[classFQN] {
		return tfjson.Dynamic, nil
	}
	g.busy[classFQN] = true
	defer delete(g.busy, classFQN)
	c := g.types[classFQN]
	if c == nil {
		return nil, nil
	}
	var getters map[string]getterInfo
	if js := g.js[c.dir()]; js != nil {
		getters = js.getters[lower(c.Name)]
	}
	attrs := map[string]json.RawMessage{}
	for _, p := range c.Properties {
		if p.Static || notAttributes[p.Name] || strings.HasSuffix(p.Name, "Input") {
			continue
		}
		gi := getters[p.Name]
		name := gi.tfName
		if name == "" {
			name = snake(p.Name)
		}
		ty, err := g.computedType(p.Type, gi.set)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", c.Name, name, err)
		}
		if ty != nil {
			attrs[name] = ty
		}
	}
	ty := tfjson.Object(attrs)
	g.objects[classFQN] = ty
	return ty, nil
}

// Terraform rejects a set of blocks or objects whose type contains
// "dynamic" (set elements must have a known type to be compared), which
// happens where cdktn cut a recursive schema off and typed the rest "any".
// Such collections become lists: the check is looser there, never wrong.
func relaxDynamicSets(b *tfjson.Block) {
	if b == nil {
		return
	}
	for _, a := range b.Attributes {
		relaxAttr(a)
	}
	for _, nb := range b.BlockTypes {
		relaxDynamicSets(nb.Block)
		if nb.NestingMode == "set" && blockHasDynamic(nb.Block) {
			nb.NestingMode = "list"
		}
	}
}

func relaxAttr(a *tfjson.Attribute) {
	if a.NestedType == nil {
		return
	}
	for _, inner := range a.NestedType.Attributes {
		relaxAttr(inner)
	}
	if a.NestedType.NestingMode == "set" && attrsHaveDynamic(a.NestedType.Attributes) {
		a.NestedType.NestingMode = "list"
	}
}

func blockHasDynamic(b *tfjson.Block) bool {
	if b == nil {
		return false
	}
	if attrsHaveDynamic(b.Attributes) {
		return true
	}
	for _, nb := range b.BlockTypes {
		if blockHasDynamic(nb.Block) {
			return true
		}
	}
	return false
}

func attrsHaveDynamic(attrs map[string]*tfjson.Attribute) bool {
	for _, a := range attrs {
		if a.NestedType != nil {
			if attrsHaveDynamic(a.NestedType.Attributes) {
				return true
			}
			continue
		}
		if strings.Contains(string(a.Type), `"dynamic"`) {
			return true
		}
	}
	return false
}
