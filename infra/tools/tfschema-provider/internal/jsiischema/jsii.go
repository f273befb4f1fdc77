package jsiischema

import "strings"

// The parts of a jsii assembly (.jsii) that describe the generated classes.

type assembly struct {
	Name    string               `json:"name"`
	Version string               `json:"version"`
	Types   map[string]*jsiiType `json:"types"`
}

type jsiiType struct {
	FQN              string       `json:"fqn"`
	Kind             string       `json:"kind"` // class, interface, enum
	Name             string       `json:"name"`
	Base             string       `json:"base"`
	Datatype         bool         `json:"datatype"`
	Interfaces       []string     `json:"interfaces"`
	Docs             docs         `json:"docs"`
	Properties       []property   `json:"properties"`
	Methods          []method     `json:"methods"`
	Initializer      *initializer `json:"initializer"`
	LocationInModule struct {
		Filename string `json:"filename"`
	} `json:"locationInModule"`
}

// dir is the generated source directory of the type ("sqs-queue" for
// src/sqs-queue/index.ts); the compiled JavaScript lives in lib/<dir>/index.js.
func (t *jsiiType) dir() string {
	f := strings.TrimPrefix(t.LocationInModule.Filename, "src/")
	if i := strings.IndexByte(f, '/'); i >= 0 {
		return f[:i]
	}
	return f
}

type docs struct {
	Summary    string `json:"summary"`
	Remarks    string `json:"remarks"`
	Deprecated string `json:"deprecated"`
}

type property struct {
	Name      string  `json:"name"`
	Type      typeRef `json:"type"`
	Optional  bool    `json:"optional"`
	Static    bool    `json:"static"`
	Immutable bool    `json:"immutable"`
	Docs      docs    `json:"docs"`
}

type method struct {
	Name    string `json:"name"`
	Returns *struct {
		Type typeRef `json:"type"`
	} `json:"returns"`
}

type initializer struct {
	Parameters []struct {
		Name string  `json:"name"`
		Type typeRef `json:"type"`
	} `json:"parameters"`
}

type typeRef struct {
	Primitive  string `json:"primitive"`
	FQN        string `json:"fqn"`
	Collection *struct {
		Kind        string  `json:"kind"` // array, map
		ElementType typeRef `json:"elementtype"`
	} `json:"collection"`
	Union *struct {
		Types []typeRef `json:"types"`
	} `json:"union"`
}

// withoutResolvable drops the cdktn.IResolvable alternative that cdktn adds to
// every union ("a value or a token"), returning the one real type.
func (t typeRef) withoutResolvable() typeRef {
	if t.Union == nil {
		return t
	}
	var rest []typeRef
	for _, u := range t.Union.Types {
		if u.FQN != "cdktn.IResolvable" {
			rest = append(rest, u)
		}
	}
	if len(rest) == 1 {
		return rest[0]
	}
	return typeRef{Primitive: "any"}
}
