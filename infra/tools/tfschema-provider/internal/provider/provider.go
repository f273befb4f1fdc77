// Package provider is a Terraform provider (plugin protocol 6) that knows a
// provider's schema and nothing else. Terraform can load it in place of the
// real provider through dev_overrides, and `terraform validate` then checks
// configurations against the real schema — unknown arguments and blocks,
// wrong types, missing required arguments, references to attributes that do
// not exist — with no registry and no credentials. Every operation that
// would touch infrastructure (configure, plan, apply, read, import) fails
// with a diagnostic that says so.
package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

// Server serves one provider's schemas.
type Server struct {
	provider    *tfprotov6.Schema
	resources   map[string]*tfprotov6.Schema
	dataSources map[string]*tfprotov6.Schema
	ephemeral   map[string]*tfprotov6.Schema
}

var _ tfprotov6.ProviderServer = (*Server)(nil)

// New converts a schema document to protocol schemas. address picks the
// provider in the document; empty takes the only one.
func New(doc *tfjson.Document, address string) (*Server, error) {
	var ps *tfjson.ProviderSchema
	if address != "" {
		ps = doc.ProviderSchemas[address]
	} else if len(doc.ProviderSchemas) == 1 {
		for _, v := range doc.ProviderSchemas {
			ps = v
		}
	}
	if ps == nil {
		return nil, fmt.Errorf("schema document has no provider %q", address)
	}
	s := &Server{
		resources:   map[string]*tfprotov6.Schema{},
		dataSources: map[string]*tfprotov6.Schema{},
		ephemeral:   map[string]*tfprotov6.Schema{},
	}
	var err error
	if ps.Provider != nil {
		if s.provider, err = protoSchema(ps.Provider); err != nil {
			return nil, fmt.Errorf("provider: %w", err)
		}
	} else {
		s.provider = &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{}}
	}
	for dst, src := range map[*map[string]*tfprotov6.Schema]map[string]*tfjson.Schema{
		&s.resources: ps.ResourceSchemas, &s.dataSources: ps.DataSourceSchemas, &s.ephemeral: ps.EphemeralResourceSchemas,
	} {
		for name, schema := range src {
			if (*dst)[name], err = protoSchema(schema); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return s, nil
}

func schemaOnly(what string) []*tfprotov6.Diagnostic {
	return []*tfprotov6.Diagnostic{{
		Severity: tfprotov6.DiagnosticSeverityError,
		Summary:  "Schema-only provider",
		Detail: fmt.Sprintf("This provider was built from a published schema for offline `terraform validate` and cannot %s. "+
			"Unset TF_CLI_CONFIG_FILE (or remove its dev_overrides) to use the real provider.", what),
	}}
}

func (s *Server) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp := &tfprotov6.GetMetadataResponse{ServerCapabilities: &tfprotov6.ServerCapabilities{}}
	for _, n := range sortedKeys(s.resources) {
		resp.Resources = append(resp.Resources, tfprotov6.ResourceMetadata{TypeName: n})
	}
	for _, n := range sortedKeys(s.dataSources) {
		resp.DataSources = append(resp.DataSources, tfprotov6.DataSourceMetadata{TypeName: n})
	}
	for _, n := range sortedKeys(s.ephemeral) {
		resp.EphemeralResources = append(resp.EphemeralResources, tfprotov6.EphemeralResourceMetadata{TypeName: n})
	}
	return resp, nil
}

func (s *Server) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return &tfprotov6.GetProviderSchemaResponse{
		ServerCapabilities:       &tfprotov6.ServerCapabilities{},
		Provider:                 s.provider,
		ResourceSchemas:          s.resources,
		DataSourceSchemas:        s.dataSources,
		EphemeralResourceSchemas: s.ephemeral,
		Functions:                map[string]*tfprotov6.Function{},
		ListResourceSchemas:      map[string]*tfprotov6.Schema{},
		ActionSchemas:            map[string]*tfprotov6.ActionSchema{},
	}, nil
}

func (s *Server) GetResourceIdentitySchemas(context.Context, *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov6.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov6.ResourceIdentitySchema{}}, nil
}

// Terraform core has checked the configuration against the schema (names,
// types, required arguments, block counts) before these are called. What a
// real provider adds is value validation (enums, ranges, conflicts), which
// lives in its code and is not reproduced; only the read-only check is,
// because it follows from the schema alone.

func (s *Server) ValidateProviderConfig(_ context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return &tfprotov6.ValidateProviderConfigResponse{PreparedConfig: req.Config, Diagnostics: readOnly(s.provider, req.Config)}, nil
}

func (s *Server) ValidateResourceConfig(_ context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return &tfprotov6.ValidateResourceConfigResponse{Diagnostics: readOnly(s.resources[req.TypeName], req.Config)}, nil
}

func (s *Server) ValidateDataResourceConfig(_ context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return &tfprotov6.ValidateDataResourceConfigResponse{Diagnostics: readOnly(s.dataSources[req.TypeName], req.Config)}, nil
}

func (s *Server) ValidateEphemeralResourceConfig(_ context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return &tfprotov6.ValidateEphemeralResourceConfigResponse{Diagnostics: readOnly(s.ephemeral[req.TypeName], req.Config)}, nil
}

func (s *Server) ConfigureProvider(context.Context, *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return &tfprotov6.ConfigureProviderResponse{Diagnostics: schemaOnly("be configured")}, nil
}

func (s *Server) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return &tfprotov6.StopProviderResponse{}, nil
}

func (s *Server) UpgradeResourceState(context.Context, *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: schemaOnly("read state")}, nil
}

func (s *Server) ReadResource(context.Context, *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return &tfprotov6.ReadResourceResponse{Diagnostics: schemaOnly("read resources")}, nil
}

func (s *Server) PlanResourceChange(context.Context, *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return &tfprotov6.PlanResourceChangeResponse{Diagnostics: schemaOnly("plan")}, nil
}

func (s *Server) ApplyResourceChange(context.Context, *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return &tfprotov6.ApplyResourceChangeResponse{Diagnostics: schemaOnly("apply")}, nil
}

func (s *Server) ImportResourceState(context.Context, *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return &tfprotov6.ImportResourceStateResponse{Diagnostics: schemaOnly("import")}, nil
}

func (s *Server) MoveResourceState(context.Context, *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return &tfprotov6.MoveResourceStateResponse{Diagnostics: schemaOnly("move state")}, nil
}

func (s *Server) UpgradeResourceIdentity(context.Context, *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return &tfprotov6.UpgradeResourceIdentityResponse{Diagnostics: schemaOnly("read identities")}, nil
}

func (s *Server) GenerateResourceConfig(context.Context, *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return &tfprotov6.GenerateResourceConfigResponse{Diagnostics: schemaOnly("generate configuration")}, nil
}

func (s *Server) ReadDataSource(context.Context, *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return &tfprotov6.ReadDataSourceResponse{Diagnostics: schemaOnly("read data sources")}, nil
}

func (s *Server) OpenEphemeralResource(context.Context, *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return &tfprotov6.OpenEphemeralResourceResponse{Diagnostics: schemaOnly("open ephemeral resources")}, nil
}

func (s *Server) RenewEphemeralResource(context.Context, *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return &tfprotov6.RenewEphemeralResourceResponse{Diagnostics: schemaOnly("renew ephemeral resources")}, nil
}

func (s *Server) CloseEphemeralResource(context.Context, *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return &tfprotov6.CloseEphemeralResourceResponse{}, nil
}

func (s *Server) GetFunctions(context.Context, *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return &tfprotov6.GetFunctionsResponse{Functions: map[string]*tfprotov6.Function{}}, nil
}

func (s *Server) CallFunction(context.Context, *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return &tfprotov6.CallFunctionResponse{Error: &tfprotov6.FunctionError{Text: "schema-only provider has no functions"}}, nil
}
