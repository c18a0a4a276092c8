package oathmesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes is how much of a request body VerifyRequest and Middleware read to
// check request binding.
const DefaultMaxBodyBytes = 1 << 20

// Options configures Middleware.
type Options struct {
	// Action, when set, is the action this route serves: the token's act must equal it
	// (403 policy_denied otherwise).
	Action string
	// MaxBodyBytes bounds how much of the body is buffered to check request binding
	// (DefaultMaxBodyBytes when 0). A larger body is still passed on whole to the handler,
	// but is not hashed, so a token bound to it fails closed with binding_mismatch.
	MaxBodyBytes int64
	// OnError, when set, answers failed requests instead of the PROTOCOL §2 JSON body.
	OnError func(w http.ResponseWriter, r *http.Request, err *Error, requestID string)
}

type callerKey struct{}

// CallerFrom returns the caller Middleware verified for this request.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	caller, ok := ctx.Value(callerKey{}).(*Caller)
	return caller, ok
}

// WithCaller returns a context carrying caller, as Middleware does.
func WithCaller(ctx context.Context, caller *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// Middleware verifies the Authorization header of every request with v and, on success,
// calls next with the caller in the request's context (CallerFrom). On failure it answers
// with the error's HTTP status and the PROTOCOL §2 JSON body
// {"error", "message", "fix", "step", "request_id"}, where request_id comes from
// X-Request-Id or is generated. It works with net/http (mux.Handle("/", m(h))) and chi
// (r.Use(m)).
func Middleware(v *Verifier, opts Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requestID := r.Header.Get("X-Request-Id")
			if requestID == "" {
				requestID = newRequestID()
			}
			verifyOpts := []VerifyOption{WithRequestID(requestID)}
			if opts.Action != "" {
				verifyOpts = append(verifyOpts, WithRequiredAction(opts.Action))
			}
			caller, err := v.verifyRequest(r, opts.MaxBodyBytes, verifyOpts)
			if err != nil {
				var oerr *Error
				if !errors.As(err, &oerr) {
					// Only a cancelled context gets here: the client has gone.
					oerr = &Error{status: ErrInternal.status, Code: "request_cancelled", Message: err.Error()}
				}
				if opts.OnError != nil {
					opts.OnError(w, r, oerr, requestID)
				} else {
					WriteError(w, oerr, requestID)
				}
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), caller)))
		})
	}
}

// VerifyRequest verifies r's Authorization header, binding the token to r's method, target
// and body (read up to DefaultMaxBodyBytes and restored, so handlers still read it whole).
// X-Request-Id, when present, goes to the audit event.
func (v *Verifier) VerifyRequest(r *http.Request, opts ...VerifyOption) (*Caller, error) {
	if id := r.Header.Get("X-Request-Id"); id != "" {
		opts = append([]VerifyOption{WithRequestID(id)}, opts...)
	}
	return v.verifyRequest(r, 0, opts)
}

func (v *Verifier) verifyRequest(r *http.Request, maxBody int64, opts []VerifyOption) (*Caller, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	parts, err := requestParts(r, maxBody)
	if err != nil {
		return nil, err
	}
	return v.VerifyAuthorization(r.Context(), r.Header.Get("Authorization"), parts, opts...)
}

// requestParts reads the body (at most maxBody bytes) and puts it back in front of whatever
// was not read. It returns nil parts when the body is too large to hash: the core then
// refuses a bound token (binding_mismatch) and accepts an unbound one.
func requestParts(r *http.Request, maxBody int64) (*RequestParts, error) {
	var body []byte
	tooLarge := false
	if r.Body != nil && r.Body != http.NoBody {
		buffered, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, &Error{status: ErrInvalidArgument.status, Code: "invalid_argument", HTTPStatus: http.StatusBadRequest,
				Message: "the request body could not be read", Fix: "Send the whole body."}
		}
		tooLarge = int64(len(buffered)) > maxBody
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buffered), r.Body), r.Body}
		body = buffered
	}
	if tooLarge {
		return nil, nil
	}
	// The target exactly as sent; RequestURI is empty only for client-side requests.
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	return &RequestParts{Method: r.Method, PathAndQuery: target, Body: body}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// WriteError answers a failed verification with err's HTTP status and the PROTOCOL §2 body.
// Failures that are not verification failures (HTTPStatus 0) are answered 400 when the
// request was unusable (invalid_utf8) and 500 otherwise.
func WriteError(w http.ResponseWriter, err *Error, requestID string) {
	status := err.HTTPStatus
	if status == 0 {
		status = http.StatusInternalServerError
		if errors.Is(err, ErrInvalidUTF8) || errors.Is(err, ErrInvalidArgument) {
			status = http.StatusBadRequest
		}
	}
	body, _ := json.Marshal(struct {
		Error     string `json:"error"`
		Message   string `json:"message"`
		Fix       string `json:"fix"`
		Step      string `json:"step"`
		RequestID string `json:"request_id"`
	}{err.Code, err.Message, err.Fix, err.Step, requestID})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "OathMesh")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newRequestID is a random UUIDv4.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
