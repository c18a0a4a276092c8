package io.oathmesh

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.Callable
import java.util.concurrent.Executors

class ApiTest {
    @Test
    fun `a minted token verifies and names its caller`() {
        Fixture().use { f ->
            Verifier.fromJson(f.verifierConfig).use { v ->
                val token = f.mint()
                val caller = v.verify(token.token)
                assertEquals("svc://checkout", caller.subject)
                assertEquals("charge", caller.action)
                assertEquals(token.tokenId, caller.tokenId)
                assertEquals(f.audience, v.audience)
                val viaHeader = Verifier.fromJson(f.verifierConfig).use {
                    it.verifyAuthorization(token.authorization, VerifyOptions.NONE)
                }
                assertEquals(caller.tokenId, viaHeader.tokenId)
            }
        }
    }

    @Test
    fun `a token from another key is refused with its family and the core's response`() {
        Fixture().use { trusted ->
            Fixture().use { other ->
                Verifier.fromJson(trusted.verifierConfig).use { v ->
                    val err = assertThrows<KeyNotFoundException> {
                        v.verify(other.mint().token, VerifyOptions.builder().requestId("req-1").build())
                    }
                    assertEquals("key_not_found", err.code)
                    assertEquals(401, err.status)
                    assertEquals(401, err.response.status)
                    assertTrue(err.response.bodyText().contains("\"request_id\":\"req-1\""))
                    assertFalse(err.message!!.contains(other.mint().token.substringBefore('.')))
                }
            }
        }
    }

    @Test
    fun `a bound token verifies only with its exact request`() {
        Fixture().use { f ->
            Verifier.fromJson(f.verifierConfig).use { v ->
                val body = """{"amount":100}""".toByteArray()
                val rqh = OathMesh.canonicalRequestHash("POST", "/v1/charges?x=1", body)
                assertTrue(rqh.startsWith("sha256:"))
                val token = f.mint(more = mapOf("rqh" to rqh)).token
                assertTrue(v.needsRequest(token))
                val ok = VerifyOptions.builder().request("POST", "/v1/charges?x=1", body).build()
                assertEquals("charge", v.verify(token, ok).action)
                val tampered = VerifyOptions.builder().request("POST", "/v1/charges?x=1", """{"amount":999}""".toByteArray()).build()
                assertThrows<BindingMismatchException> { v.verify(token, tampered) }
                assertThrows<BindingMismatchException> { v.verify(token) }
            }
        }
    }

    @Test
    fun `a required action other than the token's is denied`() {
        Fixture().use { f ->
            Verifier.fromJson(f.verifierConfig).use { v ->
                val err = assertThrows<PolicyDeniedException> {
                    v.verify(f.mint(act = "refund").token, VerifyOptions.builder().action("charge").build())
                }
                assertEquals(403, err.status)
            }
        }
    }

    @Test
    fun `bad documents are ConfigException, bad mint requests MintException`() {
        assertThrows<ConfigException> { Verifier.fromJson("{") }
        assertThrows<ConfigException> { Verifier.fromJson("""{"audience":"https://a.test"}""") }
        assertThrows<ConfigException> { Issuer.fromJson("""{"issuer":"https://i.test","private_key_pem":"nope"}""") }
        Fixture().use { f ->
            val err = assertThrows<MintException> { f.mint(act = "has space") }
            assertTrue(err.code.startsWith("claim_invalid:"), err.code)
        }
    }

    @Test
    fun `the testing block is refused by the public constructor once the core separates it`() {
        // The conformance constructor accepts it; the vectors test runs through it.
        Fixture(extra = mapOf("testing" to mapOf("now" to 1767225600))).use { f ->
            Verifier.forConformance(f.verifierConfig).close()
        }
    }

    @Test
    fun `every error family of the core has its own exception class`() {
        val core = io.oathmesh.ffi.errorFamilies().map { it.kind.toInt() }.toSet()
        assertTrue(core.isNotEmpty())
        assertTrue(Errors.knownKinds.containsAll(core), "missing: ${core - Errors.knownKinds}")
    }

    @Test
    fun `request ids are echoed only when plain, else fresh`() {
        assertEquals("abc-123", Verifier.requestId(listOf("abc-123")))
        val fresh = Verifier.requestId(listOf("a b"))
        assertEquals(32, fresh.length)
        assertNotEquals(fresh, Verifier.requestId(emptyList()))
        assertEquals(32, Verifier.requestId(listOf("a", "b")).length)
    }

    @Test
    fun `a closed verifier fails instead of touching freed memory`() {
        Fixture().use { f ->
            val v = Verifier.fromJson(f.verifierConfig)
            v.close()
            assertThrows<IllegalStateException> { v.verify(f.mint().token) }
        }
    }

    @Test
    fun `16 threads verify at once`() {
        Fixture().use { f ->
            Verifier.fromJson(f.verifierConfig).use { v ->
                val tokens = (0 until 16 * 200).map { f.mint().token }
                val pool = Executors.newFixedThreadPool(16)
                try {
                    val results = tokens.chunked(200).map { chunk ->
                        pool.submit(Callable { chunk.map { v.verify(it).tokenId } })
                    }.flatMap { it.get() }
                    assertEquals(tokens.size, results.toSet().size)
                } finally {
                    pool.shutdown()
                }
            }
        }
    }

    @Test
    fun `100k verifier create and close cycles keep RSS flat`() {
        Fixture().use { f ->
            fun cycle(n: Int) = repeat(n) { Verifier.fromJson(f.verifierConfig).close() }
            cycle(30_000) // warm up: JIT, allocator arenas
            System.gc()
            val before = rssKiB()
            cycle(100_000)
            System.gc()
            val growth = rssKiB() - before
            // A leak of one verifier (~1 KiB of keys and config) per cycle would be ~100 MiB.
            assertTrue(growth < 32 * 1024, "RSS grew by $growth KiB over 100k cycles")
        }
    }

    private fun rssKiB(): Long = java.io.File("/proc/self/status").readLines()
        .first { it.startsWith("VmRSS:") }.split(Regex("\\s+"))[1].toLong()
}

class InteropTest {
    @Test
    fun `a token signed by the JDK's own Ed25519 to the spec verifies`() {
        Fixture().use { f ->
            Verifier.fromJson(f.verifierConfig).use { v ->
                assertEquals("svc://checkout", v.verify(JdkSigner.token(f, jti = "jdk-1")).subject)
            }
        }
    }

    @Test
    fun `an OathMesh token verifies with the JDK against the published JWKS`() {
        Fixture().use { f ->
            val token = f.mint().token
            val jwk = Repo.mapper.readTree(f.issuer.jwksJson())["keys"][0]
            assertEquals(f.issuer.kid, jwk["kid"].asText())
            val x = java.util.Base64.getUrlDecoder().decode(jwk["x"].asText())
            // Raw 32-byte Ed25519 key inside the fixed SPKI prefix (RFC 8410).
            val spki = byteArrayOf(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00) + x
            val key = java.security.KeyFactory.getInstance("Ed25519").generatePublic(java.security.spec.X509EncodedKeySpec(spki))
            val parts = token.split('.')
            val ok = java.security.Signature.getInstance("Ed25519").apply {
                initVerify(key)
                update("${parts[0]}.${parts[1]}".toByteArray(Charsets.US_ASCII))
            }.verify(java.util.Base64.getUrlDecoder().decode(parts[2]))
            assertTrue(ok)
            val claims = Repo.mapper.readTree(java.util.Base64.getUrlDecoder().decode(parts[1]))
            assertEquals(f.audience, claims["aud"].asText())
        }
    }
}
