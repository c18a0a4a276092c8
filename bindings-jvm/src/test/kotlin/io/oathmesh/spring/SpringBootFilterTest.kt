// The auto-configured filter in a real Spring Boot app on a random port, over real HTTP.
package io.oathmesh.spring

import io.oathmesh.Caller
import io.oathmesh.Fixture
import io.oathmesh.JdkSigner
import io.oathmesh.OathMesh
import io.oathmesh.Repo
import io.oathmesh.servlet.OathMeshFilter
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.springframework.beans.factory.annotation.Value
import org.springframework.boot.autoconfigure.SpringBootApplication
import org.springframework.boot.test.context.SpringBootTest
import org.springframework.test.context.DynamicPropertyRegistry
import org.springframework.test.context.DynamicPropertySource
import org.springframework.web.bind.annotation.PostMapping
import org.springframework.web.bind.annotation.RequestAttribute
import org.springframework.web.bind.annotation.RequestBody
import org.springframework.web.bind.annotation.RestController
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

@SpringBootApplication
open class PaymentsApp

@RestController
open class ChargeRoutes {
    @PostMapping("/v1/charges")
    open fun charge(
        @RequestAttribute(OathMeshFilter.CALLER_ATTRIBUTE) caller: Caller,
        @RequestBody body: String,
    ): Map<String, Any?> = mapOf("subject" to caller.subject, "action" to caller.action, "body" to body)

    @PostMapping("/v1/refunds")
    open fun refund(@RequestAttribute(OathMeshFilter.CALLER_ATTRIBUTE) caller: Caller): Map<String, Any?> =
        mapOf("subject" to caller.subject)
}

@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, classes = [PaymentsApp::class])
class SpringBootFilterTest {
    companion object {
        private val fixture = Fixture()
        private val policy = mapOf(
            "version" to 1,
            "rules" to listOf(
                mapOf("name" to "no-refunds-from-checkout", "allow" to false, "match" to mapOf("sub" to "svc://checkout", "act" to "refund")),
                mapOf("name" to "allow-all", "allow" to true),
            ),
        )

        @JvmStatic
        @DynamicPropertySource
        fun oathmesh(registry: DynamicPropertyRegistry) {
            val config = Repo.mapper.readTree(fixture.verifierConfig) as com.fasterxml.jackson.databind.node.ObjectNode
            config.set<com.fasterxml.jackson.databind.JsonNode>("policy", Repo.mapper.valueToTree(policy))
            registry.add("oathmesh.verifier-config") { Repo.mapper.writeValueAsString(config) }
        }

        @JvmStatic
        @AfterAll
        fun close() = fixture.close()
    }

    @Value("\${local.server.port}")
    private var port: Int = 0

    private val http = HttpClient.newHttpClient()

    private fun post(path: String, body: String, authorization: String?, requestId: String? = null): HttpResponse<String> {
        val b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:$port$path"))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", "application/json")
        authorization?.let { b.header("Authorization", it) }
        requestId?.let { b.header("X-Request-Id", it) }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString())
    }

    private fun assertRefused(r: HttpResponse<String>, status: Int, code: String) {
        assertEquals(status, r.statusCode(), r.body())
        val body = Repo.mapper.readTree(r.body())
        assertEquals(code, body["error"].asText(), r.body())
        assertEquals("OathMesh error=\"$code\"", r.headers().firstValue("WWW-Authenticate").orElse(null))
        assertEquals("no-store", r.headers().firstValue("Cache-Control").orElse(null))
        assertEquals(body["request_id"].asText(), r.headers().firstValue("X-Request-Id").orElse(null))
    }

    @Test
    fun `a valid token reaches the handler with its caller`() {
        val r = post("/v1/charges", """{"amount":100}""", fixture.mint().authorization, requestId = "req-allow")
        assertEquals(200, r.statusCode(), r.body())
        val body = Repo.mapper.readTree(r.body())
        assertEquals("svc://checkout", body["subject"].asText())
        assertEquals("""{"amount":100}""", body["body"].asText())
        assertEquals("req-allow", r.headers().firstValue("X-Request-Id").orElse(null))
    }

    @Test
    fun `no Authorization header is 401 claim_missing token`() {
        assertRefused(post("/v1/charges", "{}", null), 401, "claim_missing:token")
    }

    @Test
    fun `an expired token is 401 token_expired`() {
        val token = JdkSigner.token(fixture, offsetSecs = -3600)
        assertRefused(post("/v1/charges", "{}", "OathMesh $token"), 401, "token_expired")
    }

    @Test
    fun `a token for another audience is 401 audience_mismatch`() {
        val token = fixture.issuer.mint(
            Repo.mapper.writeValueAsString(mapOf("sub" to "svc://checkout", "aud" to "https://other.oathmesh.test", "act" to "charge")),
        )
        assertRefused(post("/v1/charges", "{}", token.authorization), 401, "audience_mismatch")
    }

    @Test
    fun `a replayed token is 401 replay_detected`() {
        val token = fixture.mint().authorization
        assertEquals(200, post("/v1/charges", "{}", token).statusCode())
        assertRefused(post("/v1/charges", "{}", token), 401, "replay_detected")
    }

    @Test
    fun `the policy denies with 403 policy_denied`() {
        assertRefused(post("/v1/refunds", "{}", fixture.mint(act = "refund").authorization), 403, "policy_denied")
    }

    @Test
    fun `a tampered bound body is 401 binding_mismatch`() {
        val body = """{"amount":100}"""
        val rqh = OathMesh.canonicalRequestHash("POST", "/v1/charges?customer=c1", body.toByteArray())
        val token = fixture.mint(more = mapOf("rqh" to rqh)).authorization
        assertRefused(post("/v1/charges?customer=c1", """{"amount":999}""", token), 401, "binding_mismatch")
        val ok = fixture.mint(more = mapOf("rqh" to rqh)).authorization
        val r = post("/v1/charges?customer=c1", body, ok)
        assertEquals(200, r.statusCode(), r.body())
        assertEquals(body, Repo.mapper.readTree(r.body())["body"].asText())
    }
}
