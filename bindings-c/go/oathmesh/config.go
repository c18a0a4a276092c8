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

	// Static keys shared by every trusted issuer: at most one of JWKS, JWKSFile,
	// PublicKeysPEM (or IssuerJWKS). With none of them, each trusted issuer's keys are
	// fetched from {iss}/.well-known/jwks.json (https, or http to loopback), tuned by
	// JWKSFetch.
	JWKS          json.RawMessage            `json:"jwks,omitempty"`
	JWKSFile      string                     `json:"jwks_file,omitempty"`
	PublicKeysPEM []string                   `json:"public_keys_pem,omitempty"`
	IssuerJWKS    map[string]json.RawMessage `json:"issuer_jwks,omitempty"`
	JWKSFetch     *JWKSFetch                 `json:"jwks_fetch,omitempty"`

	// Leeway is the clock-skew allowance in whole seconds (0..60); nil means the default, 10.
	Leeway *int `json:"leeway,omitempty"`
	// Policy is a PROTOCOL §5 policy document; without Policy or PolicyFile every valid token
	// is allowed (authentication only).
	Policy json.RawMessage `json:"policy,omitempty"`
	// PolicyFile is re-read when it changes (checked at most once a second); a change that
	// fails to load keeps the last good policy. A ".pkl" file is evaluated by the pkl CLI.
	PolicyFile string `json:"policy_file,omitempty"`
	// PklPath is the pkl binary for a ".pkl" PolicyFile; "" means $OATHMESH_PKL, then PATH.
	PklPath        string       `json:"pkl_path,omitempty"`
	RequireBinding bool         `json:"require_binding,omitempty"`
	ReplayCache    *ReplayCache `json:"replay_cache,omitempty"`
	// RedisURL ("redis://host:port/db") is the shorthand for a Redis replay cache (falling
	// back to the in-process cache while Redis fails) and Redis revocation, unless
	// ReplayCache, Revocation or RevokedSubjects say otherwise.
	RedisURL   string      `json:"redis_url,omitempty"`
	Revocation *Revocation `json:"revocation,omitempty"`
	// RevokedSubjects are refused at step 13.5.
	RevokedSubjects []string `json:"revoked_subjects,omitempty"`
	Audit           *Audit   `json:"audit,omitempty"`

	// Testing is for tests only: production configurations never set it.
	Testing *Testing `json:"testing,omitempty"`
}

// JWKSFetch tunes the fetching of issuers' keys (only with no static keys).
type JWKSFetch struct {
	// FreshnessSecs is how long fetched keys are used before a background refresh (1..86400);
	// 0 means the default, 60.
	FreshnessSecs int `json:"freshness_secs,omitempty"`
	// AllowInsecureHTTP allows http:// to hosts that are not loopback.
	AllowInsecureHTTP bool `json:"allow_insecure_http,omitempty"`
}

// ReplayCache configures the replay cache: Type "memory" (Capacity) or "redis" (URL,
// OnError, TimeoutMS, and Capacity for the in-process cache kept beside Redis).
type ReplayCache struct {
	Type     string `json:"type"`
	Capacity int    `json:"capacity,omitempty"`
	// URL defaults to Config.RedisURL.
	URL string `json:"url,omitempty"`
	// OnError is what happens while Redis fails: "fallback" (the default) answers from the
	// in-process cache, "reject" answers replay_cache_unavailable (503).
	OnError string `json:"on_error,omitempty"`
	// TimeoutMS bounds each Redis command; 0 means the default, 250.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Revocation configures a shared revocation list: Type "redis" (the hash
// oathmesh:revocations, field = subject). It cannot be combined with RevokedSubjects.
type Revocation struct {
	Type string `json:"type"`
	// URL defaults to Config.RedisURL.
	URL string `json:"url,omitempty"`
	// TimeoutMS bounds each Redis command; 0 means the default, 250.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Audit configures the built-in audit sinks.
type Audit struct {
	Stdout bool   `json:"stdout,omitempty"`
	File   string `json:"file,omitempty"`
	// HMACKey or HMACKeyFile (at most one, at least 16 bytes) chains the built-in outputs:
	// every line gains seq, prev_hash and hmac, checked by `oathmesh audit verify`.
	HMACKey     string `json:"hmac_key,omitempty"`
	HMACKeyFile string `json:"hmac_key_file,omitempty"`
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
