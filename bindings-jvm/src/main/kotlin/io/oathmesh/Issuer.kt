// Minting, locally (Issuer) or from an OathMesh issuer over HTTP (Client), and the tools.
package io.oathmesh

import io.oathmesh.ffi.Client as NativeClient
import io.oathmesh.ffi.Issuer as NativeIssuer

/** A minted token. */
class Token internal constructor(
    val token: String,
    val expiresIn: Long,
    val tokenType: String,
    /** The `jti`, when minted locally; null from an issuer over HTTP. */
    val tokenId: String?,
) {
    /** The `Authorization` header value: `OathMesh <token>`. */
    val authorization: String get() = "OathMesh $token"

    override fun toString(): String = "Token(type=$tokenType, expiresIn=$expiresIn)"
}

/** Signs tokens with a local Ed25519 key (tests, tools, issuers written for the JVM). */
class Issuer private constructor(private val native: NativeIssuer) : AutoCloseable {
    val issuer: String get() = Errors.call { native.issuer() }
    val kid: String get() = Errors.call { native.kid() }

    /** The JWKS document this issuer publishes. */
    fun jwksJson(): String = Errors.call { native.jwksJson() }

    /** Mints from a mint-request document: `{"sub", "aud", "act", "ttl"?, "rqh"?, ...}`. */
    fun mint(requestJson: String): Token = Errors.call {
        val t = native.mint(requestJson)
        Token(t.token, t.expiresIn, t.tokenType, t.tokenId)
    }

    override fun close() = native.close()

    companion object {
        /** `{"issuer", "private_key_pem" | "private_key_file", "kid"?}`. */
        @JvmStatic
        fun fromJson(configJson: String): Issuer = Errors.call { Issuer(NativeIssuer(configJson)) }
    }
}

/** Gets tokens from an OathMesh issuer over HTTPS, one per call (blocking). */
class Client private constructor(private val native: NativeClient) : AutoCloseable {
    fun mint(requestJson: String): Token = Errors.call {
        val t = native.mint(requestJson)
        Token(t.token, t.expiresIn, t.tokenType, null)
    }

    /** Mints a token bound (`rqh`) to the request about to be sent. */
    fun mintForRequest(requestJson: String, method: String, pathAndQuery: String, body: ByteArray): Token =
        Errors.call {
            val t = native.mintForRequest(requestJson, method, pathAndQuery, body)
            Token(t.token, t.expiresIn, t.tokenType, null)
        }

    override fun close() = native.close()

    companion object {
        /** `{"issuer_url", "client_id", "client_secret" | "client_key_pem", "timeout_ms"?, "token_url"?}`. */
        @JvmStatic
        fun fromJson(configJson: String): Client = Errors.call { Client(NativeClient(configJson)) }
    }
}

/** A fresh Ed25519 key pair. */
class KeyPair internal constructor(
    /** PKCS#8 PEM; store it with mode 0600. */
    val privatePem: String,
    val publicPem: String,
    val kid: String,
    val jwkJson: String,
) {
    override fun toString(): String = "KeyPair(kid=$kid)"
}

/** Stateless helpers. */
object OathMesh {
    /** `sha256:<hex>` of the canonical request (PROTOCOL §4): what a bound token's `rqh` is. */
    @JvmStatic
    fun canonicalRequestHash(method: String, pathAndQuery: String, body: ByteArray): String =
        Errors.call { io.oathmesh.ffi.canonicalRequestHash(method, pathAndQuery, body) }

    /** A new Ed25519 key from OS randomness. */
    @JvmStatic
    fun generateKey(): KeyPair = Errors.call {
        val k = io.oathmesh.ffi.generateKey()
        KeyPair(k.privatePem, k.publicPem, k.kid, k.jwkJson)
    }

    /** The native core's version. */
    @JvmStatic
    fun coreVersion(): String = Errors.call { io.oathmesh.ffi.coreVersion() }
}
