// The verifier: one per service, built from the configuration document, shared by all
// threads, closed when the service stops (it owns native memory).
package io.oathmesh

import io.oathmesh.ffi.BoundRequest
import io.oathmesh.ffi.Verifier as NativeVerifier
import io.oathmesh.ffi.VerifyOptions as NativeOptions

/** What a route asks of one verification besides the token. Immutable; build with [builder]. */
class VerifyOptions private constructor(
    internal val method: String?,
    internal val pathAndQuery: String?,
    internal val body: ByteArray?,
    val requestId: String?,
    val action: String?,
) {
    class Builder internal constructor() {
        private var method: String? = null
        private var pathAndQuery: String? = null
        private var body: ByteArray? = null
        private var requestId: String? = null
        private var action: String? = null

        /** The request as received, for `rqh` binding: exact method, raw path and query, body bytes. */
        fun request(method: String, pathAndQuery: String, body: ByteArray): Builder = apply {
            this.method = method
            this.pathAndQuery = pathAndQuery
            this.body = body.copyOf()
        }

        /** Correlates the audit event and the failure response (see [Verifier.requestId]). */
        fun requestId(requestId: String?): Builder = apply { this.requestId = requestId }

        /** The action this route serves: the token's `act` must equal it. */
        fun action(action: String?): Builder = apply { this.action = action }

        fun build(): VerifyOptions = VerifyOptions(method, pathAndQuery, body, requestId, action)
    }

    internal fun toNative(): NativeOptions = NativeOptions(
        request = method?.let { BoundRequest(it, pathAndQuery ?: "", body ?: ByteArray(0)) },
        requestId = requestId,
        action = action,
    )

    companion object {
        @JvmStatic fun builder(): Builder = Builder()

        /** No request, no request id, no required action. */
        @JvmField val NONE: VerifyOptions = Builder().build()
    }
}

/**
 * Verifies Oath Tokens with the Rust core. Thread-safe; build once and share.
 * Every failure is a [VerificationException] subclass; nothing is ever accepted unchecked.
 */
class Verifier private constructor(private val native: NativeVerifier) : AutoCloseable {
    /** The audience this service answers to (`aud`). */
    val audience: String get() = Errors.call { native.audience() }

    /** Seconds of clock skew allowed. */
    val leewaySeconds: Long get() = Errors.call { native.leewaySecs() }

    /** True when every token must be bound to its request. */
    fun requiresBinding(): Boolean = Errors.call { native.requiresBinding() }

    /** True when verifying this token needs the request (method, path, body). */
    fun needsRequest(token: String): Boolean = Errors.call { native.needsRequest(token) }

    /** Verifies a bare token (no request binding, no required action). */
    fun verify(token: String): Caller = verify(token, VerifyOptions.NONE)

    fun verify(token: String, options: VerifyOptions): Caller =
        Errors.call { Caller(native.verify(token, options.toNative())) }

    /** Verifies the request's `Authorization` header values (empty list: none was sent). */
    fun verifyAuthorization(authorization: List<String>, options: VerifyOptions): Caller =
        Errors.call { Caller(native.verifyAuthorization(authorization, options.toNative())) }

    /** Verifies one `Authorization` header value (null: none was sent). */
    fun verifyAuthorization(authorization: String?, options: VerifyOptions): Caller =
        verifyAuthorization(listOfNotNull(authorization), options)

    /** Fetches every trusted issuer's JWKS now, so the first request does not wait. */
    fun prewarm(): List<String> = Errors.call {
        native.prewarm().filter { !it.ok }.map { "${it.issuer}: ${it.error}" }
    }

    /** Frees the native verifier. Calls after close fail with [InternalException]. */
    override fun close() = native.close()

    companion object {
        /** From the verifier configuration document (docs/configuration.md). */
        @JvmStatic
        fun fromJson(configJson: String): Verifier = Errors.call { Verifier(NativeVerifier(configJson)) }

        /** For conformance runners only: also accepts the `testing` block. */
        @JvmStatic
        fun forConformance(configJson: String): Verifier =
            Errors.call { Verifier(NativeVerifier.forConformance(configJson)) }

        /**
         * The request id for a request that sent these `X-Request-Id` values: echoed when it
         * is exactly one short, plain value, else a fresh random one.
         */
        @JvmStatic
        fun requestId(values: List<String>): String = Errors.call { io.oathmesh.ffi.requestIdFor(values) }
    }
}
