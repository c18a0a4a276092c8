// The outgoing-call wrapper against real loopback servers: an issuer endpoint that mints
// with the real core Issuer, and a service that verifies with the real Verifier.
package io.oathmesh.http

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import io.oathmesh.Client
import io.oathmesh.Fixture
import io.oathmesh.Repo
import io.oathmesh.VerificationException
import io.oathmesh.Verifier
import io.oathmesh.VerifyOptions
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpResponse
import java.util.Base64
import java.util.concurrent.atomic.AtomicInteger

class OathMeshHttpClientTest {
    private val servers = mutableListOf<HttpServer>()
    private val fixture = Fixture(audience = "http://127.0.0.1")
    private val mints = AtomicInteger()
    private val strayHits = AtomicInteger()

    @AfterEach
    fun stop() {
        servers.forEach { it.stop(0) }
        fixture.close()
    }

    private fun serve(handler: (HttpExchange) -> Unit): String {
        val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        server.createContext("/") { ex -> ex.use { handler(it) } }
        server.start()
        servers += server
        return "http://127.0.0.1:${server.address.port}"
    }

    private fun reply(ex: HttpExchange, status: Int, body: ByteArray, headers: Map<String, String> = emptyMap()) {
        headers.forEach { (k, v) -> ex.responseHeaders.add(k, v) }
        ex.sendResponseHeaders(status, if (body.isEmpty()) -1 else body.size.toLong())
        if (body.isNotEmpty()) ex.responseBody.write(body)
    }

    /** An issuer endpoint: checks the client secret, mints with the core Issuer. */
    private fun issuer(): String = serve { ex ->
        val expected = "Basic " + Base64.getEncoder().encodeToString("checkout:s3cret".toByteArray())
        if (ex.requestHeaders.getFirst("Authorization") != expected) {
            reply(ex, 401, """{"error":"invalid_client","message":"bad secret","fix":"check it"}""".toByteArray())
            return@serve
        }
        mints.incrementAndGet()
        val t = fixture.issuer.mint(String(ex.requestBody.readAllBytes()))
        reply(ex, 200, Repo.mapper.writeValueAsBytes(mapOf("token" to t.token, "expires_in" to t.expiresIn, "token_type" to t.tokenType)))
    }

    private fun client(issuerUrl: String, secret: String = "s3cret") = Client.fromJson(
        Repo.mapper.writeValueAsString(mapOf("issuer_url" to issuerUrl, "client_id" to "checkout", "client_secret" to secret)),
    )

    private fun mintRequest(aud: String) = Repo.mapper.writeValueAsString(mapOf("sub" to "svc://checkout", "aud" to aud, "act" to "charge"))

    @Test
    fun `each request carries a fresh bound token the service verifies`() {
        val verified = mutableListOf<String>()
        // The service's audience is its own origin; the fixture mints whatever aud is asked.
        lateinit var serviceUrl: String
        serviceUrl = serve { ex ->
            val body = ex.requestBody.readAllBytes()
            val pathAndQuery = ex.requestURI.rawPath + (ex.requestURI.rawQuery?.let { "?$it" } ?: "")
            val config = Repo.mapper.readTree(fixture.verifierConfig) as com.fasterxml.jackson.databind.node.ObjectNode
            config.put("audience", serviceUrl)
            val status = Verifier.fromJson(Repo.mapper.writeValueAsString(config)).use { v ->
                try {
                    val caller = v.verifyAuthorization(
                        ex.requestHeaders["Authorization"] ?: emptyList(),
                        VerifyOptions.builder().request(ex.requestMethod, pathAndQuery, body).build(),
                    )
                    synchronized(verified) { verified += caller.tokenId }
                    200
                } catch (e: VerificationException) {
                    e.status
                }
            }
            reply(ex, status, ByteArray(0))
        }
        client(issuer()).use { c ->
            val http = OathMeshHttpClient(c, mintRequest(serviceUrl), listOf(serviceUrl), bind = true)
            repeat(2) {
                val r = http.send("POST", URI.create("$serviceUrl/v1/charges?b=2&a=1"), """{"amount":1}""".toByteArray(), HttpResponse.BodyHandlers.discarding())
                assertEquals(200, r.statusCode())
            }
        }
        assertEquals(2, mints.get())
        assertEquals(2, verified.toSet().size)
    }

    @Test
    fun `no token for an origin it was not configured for`() {
        val stray = serve { ex -> strayHits.incrementAndGet(); reply(ex, 200, ByteArray(0)) }
        client(issuer()).use { c ->
            val http = OathMeshHttpClient(c, mintRequest("http://127.0.0.1"), listOf("https://payments.example.test"))
            assertThrows<IllegalArgumentException> {
                http.send("GET", URI.create("$stray/x"), ByteArray(0), HttpResponse.BodyHandlers.discarding())
            }
        }
        assertEquals(0, mints.get())
        assertEquals(0, strayHits.get())
    }

    @Test
    fun `a redirect to another origin is returned, never followed with a token`() {
        val stray = serve { ex -> strayHits.incrementAndGet(); reply(ex, 200, ByteArray(0)) }
        val service = serve { ex -> reply(ex, 307, ByteArray(0), mapOf("Location" to "$stray/steal")) }
        client(issuer()).use { c ->
            val http = OathMeshHttpClient(c, mintRequest(service), listOf(service))
            val r = http.send("POST", URI.create("$service/v1/charges"), "{}".toByteArray(), HttpResponse.BodyHandlers.discarding())
            assertEquals(307, r.statusCode())
        }
        assertEquals(0, strayHits.get())
        // A client that follows redirects is refused up front.
        client(issuer()).use { c ->
            assertThrows<IllegalArgumentException> {
                OathMeshHttpClient(c, mintRequest(service), listOf(service), false,
                    HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build())
            }
        }
    }

    @Test
    fun `an issuer refusal is an IssuerException with its code and status`() {
        client(issuer(), secret = "wrong").use { c ->
            val err = assertThrows<io.oathmesh.IssuerException> { c.mint(mintRequest("https://payments.example.test")) }
            assertEquals("invalid_client", err.code)
            assertEquals(401, err.status)
            assertTrue(!err.message!!.contains("wrong"))
        }
    }
}
