// Interop with nimbus-jose-jwt, both ways: nimbus mints to the spec and OathMesh verifies;
// OathMesh mints and nimbus verifies against the published JWKS.
package io.oathmesh

import com.nimbusds.jose.JOSEObjectType
import com.nimbusds.jose.JWSAlgorithm
import com.nimbusds.jose.JWSHeader
import com.nimbusds.jose.crypto.Ed25519Signer
import com.nimbusds.jose.crypto.Ed25519Verifier
import com.nimbusds.jose.jwk.Curve
import com.nimbusds.jose.jwk.JWKSet
import com.nimbusds.jose.jwk.OctetKeyPair
import com.nimbusds.jose.util.Base64URL
import com.nimbusds.jwt.JWTClaimsSet
import com.nimbusds.jwt.SignedJWT
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Base64
import java.util.Date

class NimbusInteropTest {
    /** The fixture's key as a nimbus OKP: the seed is the last 32 bytes of the PKCS#8 DER. */
    private fun okp(f: Fixture): OctetKeyPair {
        val der = Base64.getMimeDecoder().decode(f.key.privatePem.lines().filter { !it.startsWith("-----") }.joinToString(""))
        val seed = der.copyOfRange(der.size - 32, der.size)
        val x = Repo.mapper.readTree(f.key.jwkJson)["x"].asText()
        return OctetKeyPair.Builder(Curve.Ed25519, Base64URL(x)).d(Base64URL.encode(seed)).keyID(f.key.kid).build()
    }

    @Test
    fun `a nimbus-minted EdDSA token verifies`() {
        Fixture().use { f ->
            val now = System.currentTimeMillis() / 1000 * 1000
            val claims = JWTClaimsSet.Builder()
                .issuer(f.issuerUrl).subject("svc://checkout").audience(f.audience)
                .claim("act", "charge").issueTime(Date(now)).notBeforeTime(Date(now))
                .expirationTime(Date(now + 60_000)).jwtID("nimbus-1").build()
            val jwt = SignedJWT(
                JWSHeader.Builder(JWSAlgorithm.EdDSA).type(JOSEObjectType("om+jwt")).keyID(f.key.kid).build(),
                claims,
            )
            jwt.sign(Ed25519Signer(okp(f)))
            Verifier.fromJson(f.verifierConfig).use { v ->
                val caller = v.verify(jwt.serialize())
                assertEquals("svc://checkout", caller.subject)
                assertEquals("nimbus-1", caller.tokenId)
            }
        }
    }

    @Test
    fun `an OathMesh token verifies with nimbus from the exported JWKS`() {
        Fixture().use { f ->
            val token = f.mint().token
            val key = JWKSet.parse(f.issuer.jwksJson()).getKeyByKeyId(f.issuer.kid) as OctetKeyPair
            val jwt = SignedJWT.parse(token)
            assertTrue(jwt.verify(Ed25519Verifier(key.toPublicJWK())))
            assertEquals(JWSAlgorithm.EdDSA, jwt.header.algorithm)
            assertEquals(listOf(f.audience), jwt.jwtClaimsSet.audience)
            assertEquals("charge", jwt.jwtClaimsSet.getStringClaim("act"))
        }
    }
}
