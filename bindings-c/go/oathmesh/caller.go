package oathmesh

import (
	"encoding/json"
	"time"
)

// Caller is who called, as proven by a verified token (the caller context of PROTOCOL §2).
type Caller struct {
	Issuer   string
	Subject  string
	Audience string
	Action   string
	TokenID  string
	// IssuedAt and ExpiresAt are whole seconds, UTC.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Scope is never nil (empty when the token has none).
	Scope []string
	// Env, Tenant, Reason and DelegatedBy are "" when the token does not carry them.
	Env         string
	Tenant      string
	Reason      string
	Source      *Source
	DelegatedBy string
	// PolicyRule names the rule that allowed the call; "" when no policy is configured.
	PolicyRule string
}

// Source says where a workload runs (the src claim): CI system, repository, workflow, run.
type Source struct {
	Type     string `json:"type,omitempty"`
	Repo     string `json:"repo,omitempty"`
	Workflow string `json:"workflow,omitempty"`
	RunID    string `json:"run_id,omitempty"`
	SHA      string `json:"sha,omitempty"`
}

// callerJSON is the core's caller shape (docs/configuration.md), decoded once per call.
type callerJSON struct {
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	Audience    string   `json:"audience"`
	Action      string   `json:"action"`
	TokenID     string   `json:"token_id"`
	IssuedAt    int64    `json:"issued_at"`
	ExpiresAt   int64    `json:"expires_at"`
	Scope       []string `json:"scope"`
	Env         *string  `json:"env"`
	Tenant      *string  `json:"tenant"`
	Reason      *string  `json:"reason"`
	Source      *Source  `json:"source"`
	DelegatedBy *string  `json:"delegated_by"`
	PolicyRule  *string  `json:"policy_rule"`
}

func parseCaller(data []byte) (*Caller, error) {
	var c callerJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, &Error{status: ErrInternal.status, Code: "internal_panic",
			Message: "liboathmesh returned a caller that is not valid JSON: " + err.Error()}
	}
	text := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	scope := c.Scope
	if scope == nil {
		scope = []string{}
	}
	return &Caller{
		Issuer:      c.Issuer,
		Subject:     c.Subject,
		Audience:    c.Audience,
		Action:      c.Action,
		TokenID:     c.TokenID,
		IssuedAt:    time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt:   time.Unix(c.ExpiresAt, 0).UTC(),
		Scope:       scope,
		Env:         text(c.Env),
		Tenant:      text(c.Tenant),
		Reason:      text(c.Reason),
		Source:      c.Source,
		DelegatedBy: text(c.DelegatedBy),
		PolicyRule:  text(c.PolicyRule),
	}, nil
}
