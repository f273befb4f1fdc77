// Package tfjson is the provider-schema document this tool generates and
// serves. Its shape is the one `terraform providers schema -json` prints for one
// provider, so a schema dumped from a real provider can be served as well.
package tfjson

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Document is the file format: a provider schema, by provider address.
type Document struct {
	FormatVersion   string                     `json:"format_version"`
	ProviderSchemas map[string]*ProviderSchema `json:"provider_schemas"`
}

// ProviderSchema is one provider's configuration and types.
type ProviderSchema struct {
	Provider                 *Schema            `json:"provider"`
	ResourceSchemas          map[string]*Schema `json:"resource_schemas"`
	DataSourceSchemas        map[string]*Schema `json:"data_source_schemas"`
	EphemeralResourceSchemas map[string]*Schema `json:"ephemeral_resource_schemas,omitempty"`
}

// Schema is one resource, data source, ephemeral resource or the provider block.
type Schema struct {
	Version int64  `json:"version"`
	Block   *Block `json:"block"`
}

// Block is a configuration body: attributes and nested blocks.
type Block struct {
	Attributes map[string]*Attribute   `json:"attributes,omitempty"`
	BlockTypes map[string]*NestedBlock `json:"block_types,omitempty"`
}

// Attribute is a name = value argument, or a computed value readable in
// references. Exactly one of Type and NestedType is set.
type Attribute struct {
	Type       json.RawMessage `json:"type,omitempty"` // cty type in JSON form
	NestedType *NestedType     `json:"nested_type,omitempty"`
	Required   bool            `json:"required,omitempty"`
	Optional   bool            `json:"optional,omitempty"`
	Computed   bool            `json:"computed,omitempty"`
	Sensitive  bool            `json:"sensitive,omitempty"`
	Deprecated bool            `json:"deprecated,omitempty"`
	WriteOnly  bool            `json:"write_only,omitempty"`
}

// NestedType is an attribute whose value is an object or a collection of
// objects with attributes of their own (protocol 6 nested attributes).
type NestedType struct {
	Attributes  map[string]*Attribute `json:"attributes"`
	NestingMode string                `json:"nesting_mode"` // single, list, set, map
}

// NestedBlock is a block type nested in a block.
type NestedBlock struct {
	NestingMode string `json:"nesting_mode"` // single, list, set, map, group
	Block       *Block `json:"block"`
	MinItems    int64  `json:"min_items,omitempty"`
	MaxItems    int64  `json:"max_items,omitempty"`
}

// Read loads a document from a file, gunzipping it when its name ends in .gz.
func Read(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	var doc Document
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if len(doc.ProviderSchemas) == 0 {
		return nil, fmt.Errorf("%s: no provider_schemas", path)
	}
	return &doc, nil
}

// Write stores a document, gzipped when the name ends in .gz. It writes to a
// temporary file first so a reader never sees half a schema.
func Write(path string, doc *Document) error {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Primitive type names in cty's JSON form.
var (
	String  = json.RawMessage(`"string"`)
	Number  = json.RawMessage(`"number"`)
	Bool    = json.RawMessage(`"bool"`)
	Dynamic = json.RawMessage(`"dynamic"`)
)

// Collection builds ["list"|"set"|"map", elem].
func Collection(kind string, elem json.RawMessage) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`[%q,%s]`, kind, elem))
}

// Object builds ["object", {name: type, ...}].
func Object(attrs map[string]json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(attrs) // keys sorted: stable output
	return json.RawMessage(`["object",` + string(b) + `]`)
}
