package bedrocksim

import (
	"net/http"
	"sync"
)

// Refusals make accounts fail the way real accounts do when something on
// AWS's side changes: a role that can no longer be assumed (a broken trust
// policy), or model access withdrawn. They let failover be watched live and
// tested; Heal undoes them.
type refusals struct {
	mu    sync.Mutex
	role  map[string]bool // account id → AssumeRole refused
	model map[string]bool // account id → every model call refused
}

// What an account may be made to refuse.
const (
	RefuseRole  = "role"  // sts:AssumeRole answers AccessDenied
	RefuseModel = "model" // Converse, ConverseStream and InvokeModel answer AccessDeniedException
)

func (r *refusals) set(account, what string, on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.role == nil {
		r.role, r.model = map[string]bool{}, map[string]bool{}
	}
	switch what {
	case RefuseRole:
		r.role[account] = on
	case RefuseModel:
		r.model[account] = on
	case "":
		if on {
			return false
		}
		delete(r.role, account)
		delete(r.model, account)
	default:
		return false
	}
	return true
}

func (r *refusals) refuses(account, what string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if what == RefuseRole {
		return r.role[account]
	}
	return r.model[account]
}

// Refuse makes account refuse what (RefuseRole or RefuseModel) from now on.
func (s *Server) Refuse(account, what string) bool { return s.refusals.set(account, what, true) }

// Heal undoes Refuse; what "" heals everything.
func (s *Server) Heal(account, what string) bool { return s.refusals.set(account, what, false) }

// modelRefused is the error of a call from an account whose model access was
// withdrawn, as Bedrock words it.
func modelRefused() *apiError {
	return newError("AccessDeniedException", "You don't have access to the model with the specified model ID.")
}

// handleRefuse is POST /_sim/refuse?account=ID&what=role|model and
// POST /_sim/heal?account=ID[&what=role|model].
func (s *Server) handleRefuse(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		account, what := r.URL.Query().Get("account"), r.URL.Query().Get("what")
		if account == "" || !s.refusals.set(account, what, on) {
			http.Error(w, "want ?account=ID&what=role|model", http.StatusBadRequest)
			return
		}
		s.log.Info("account refusals changed", "account", account, "what", what, "refuse", on)
		writeJSON(w, http.StatusOK, map[string]any{"account": account, "what": what, "refused": on})
	}
}
