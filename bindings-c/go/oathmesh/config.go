package oathmesh

import "encoding/json"

// Config is the verifier configuration document of docs/configuration.md with Go names. It
// only renames keys: the core parses and validates the JSON it serialises to, so every
// language accepts exactly the same options and reports the same errors.
type Config struct {
	// Audience is this service's audience; a token's aud must equal it exactly.
	Audience string `json:"audience"`
	// TrustedIssuers lists the issuer URLs accepted in iss, compared exactly.
	TrustedIssuers []string `json:"trusted_issuers"`

	// Static keys shared by every trusted issuer: exactly one of JWKS, JWKSFile,
	// PublicKeysPEM (or IssuerJWKS).
	JWKS          json.RawMessage            `json:"jwks,omitempty"`
	JWKSFile      string                     `json:"jwks_file,omitempty"`
	PublicKeysPEM []string                   `json:"public_keys_pem,omitempty"`
	IssuerJWKS    map[string]json.RawMessage `json:"issuer_jwks,omitempty"`

	// Leeway is the clock-skew allowance in whole seconds (0..60); nil means the default, 10.
	Leeway *int `json:"leeway,omitempty"`
	// Policy is a PROTOCOL §5 policy document; without Policy or PolicyFile every valid token
	// is allowed (authentication only).
	Policy         json.RawMessage `json:"policy,omitempty"`
	PolicyFile     string          `json:"policy_file,omitempty"`
	RequireBinding bool            `json:"require_binding,omitempty"`
	ReplayCache    *ReplayCache    `json:"replay_cache,omitempty"`
	// RevokedSubjects are refused at step 13.5.
	RevokedSubjects []string `json:"revoked_subjects,omitempty"`
	Audit           *Audit   `json:"audit,omitempty"`

	// Testing is for tests only: production configurations never set it.
	Testing *Testing `json:"testing,omitempty"`
}

// ReplayCache configures the replay cache: {"type": "memory", "capacity": N}.
type ReplayCache struct {
	Type     string `json:"type"`
	Capacity int    `json:"capacity,omitempty"`
}

// Audit configures the built-in audit sinks.
type Audit struct {
	Stdout bool   `json:"stdout,omitempty"`
	File   string `json:"file,omitempty"`
}

// Testing fixes the clock, pre-records token ids and simulates backend outages. Tests only.
type Testing struct {
	// Now fixes the clock (Unix seconds); 0 means the system clock.
	Now int64 `json:"now,omitempty"`
	// SeenJTIs are token ids recorded as already used.
	SeenJTIs []string `json:"seen_jtis,omitempty"`
	// Unavailable lists backends to treat as down: "jwks", "revocation", "replay_cache".
	Unavailable []string `json:"unavailable,omitempty"`
}

// IssuerConfig is the issuer configuration document: exactly one of PrivateKeyPEM and
// PrivateKeyFile (PKCS#8 PEM Ed25519). KID defaults to the key's RFC 7638 thumbprint.
type IssuerConfig struct {
	Issuer         string         `json:"issuer"`
	PrivateKeyPEM  string         `json:"private_key_pem,omitempty"`
	PrivateKeyFile string         `json:"private_key_file,omitempty"`
	KID            string         `json:"kid,omitempty"`
	Testing        *IssuerTesting `json:"testing,omitempty"`
}

// IssuerTesting fixes the issuer's clock (Unix seconds). Tests only.
type IssuerTesting struct {
	Now int64 `json:"now"`
}
