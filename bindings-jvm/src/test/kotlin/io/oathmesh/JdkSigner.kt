package io.oathmesh

import java.security.KeyFactory
import java.security.Signature
import java.security.spec.PKCS8EncodedKeySpec
import java.util.Base64

/** Signs Oath Tokens with the JDK's own Ed25519 (no OathMesh code), for tokens the core's
 *  issuer would not mint (expired) and to show interop with a second implementation. */
object JdkSigner {
    private val b64 = Base64.getUrlEncoder().withoutPadding()

    fun sign(privatePem: String, kid: String, claims: Map<String, Any?>): String {
        val der = Base64.getMimeDecoder().decode(
            privatePem.lines().filter { !it.startsWith("-----") }.joinToString(""),
        )
        val key = KeyFactory.getInstance("Ed25519").generatePrivate(PKCS8EncodedKeySpec(der))
        val header = mapOf("alg" to "EdDSA", "typ" to "om+jwt", "kid" to kid)
        val input = b64.encodeToString(Repo.mapper.writeValueAsBytes(header)) + "." +
            b64.encodeToString(Repo.mapper.writeValueAsBytes(claims))
        val sig = Signature.getInstance("Ed25519").apply {
            initSign(key)
            update(input.toByteArray(Charsets.US_ASCII))
        }.sign()
        return input + "." + b64.encodeToString(sig)
    }

    /** A token from [f]'s key with the spec's claims, `iat`/`exp` shifted by [offsetSecs]. */
    fun token(f: Fixture, offsetSecs: Long = 0, ttl: Long = 60, jti: String = java.util.UUID.randomUUID().toString()): String {
        val now = System.currentTimeMillis() / 1000 + offsetSecs
        return sign(
            f.key.privatePem, f.key.kid,
            linkedMapOf(
                "iss" to f.issuerUrl, "sub" to "svc://checkout", "aud" to f.audience, "act" to "charge",
                "iat" to now, "nbf" to now, "exp" to now + ttl, "jti" to jti,
            ),
        )
    }
}
