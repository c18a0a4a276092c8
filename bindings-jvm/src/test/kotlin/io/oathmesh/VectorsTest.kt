// Every conformance vector through the JVM binding: same outcome, code, step and status
// (and response bytes where the vector pins them), or the same caller field by field.
package io.oathmesh

import com.fasterxml.jackson.databind.JsonNode
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows

class VectorsTest {
    private val doc = Repo.vectors()

    @Test
    fun `the vector file is complete`() {
        assertEquals(1, doc["format"].asInt())
        val names = doc["vectors"].map { it["name"].asText() }
        assertTrue(names.size >= 40, "only ${names.size} vectors")
        assertEquals(names.size, names.toSet().size)
    }

    @TestFactory
    fun vectors(): List<DynamicTest> = doc["vectors"].map { v ->
        DynamicTest.dynamicTest(v["name"].asText()) { check(v) }
    }

    private fun run(v: JsonNode, requestId: String): Caller {
        Verifier.forConformance(Repo.mapper.writeValueAsString(v["config"])).use { verifier ->
            val options = VerifyOptions.builder().requestId(requestId)
            val request = v["request"]
            if (request != null && !request.isNull) {
                options.request(
                    request["method"].asText(),
                    request["path_and_query"].asText(),
                    request["body"].asText().toByteArray(Charsets.UTF_8),
                )
            }
            return if (v.has("token")) {
                verifier.verify(v["token"].asText(), options.build())
            } else {
                val auth = v["authorization"]
                verifier.verifyAuthorization(if (auth.isNull) null else auth.asText(), options.build())
            }
        }
    }

    private fun check(v: JsonNode) {
        val expect = v["expect"]
        val requestId = "vec-" + v["name"].asText()
        if (expect["outcome"].asText() == "allow") {
            checkCaller(run(v, requestId), expect["caller"])
            return
        }
        val err = assertThrows<VerificationException> { run(v, requestId) }
        assertEquals(expect["code"].asText(), err.code)
        assertEquals(expect["step"].asText(), err.step)
        assertEquals(expect["http_status"].asInt(), err.status)
        // The family class agrees with the code.
        val family = expect["code"].asText().substringBefore(':')
            .split('_').joinToString("") { it.replaceFirstChar(Char::uppercaseChar) } + "Exception"
        assertEquals(family, err.javaClass.simpleName)
        // The response is the core's: same status, the contract's headers, the JSON body.
        val response = err.response
        assertEquals(err.status, response.status)
        assertEquals(
            listOf("Content-Type", "Cache-Control", "WWW-Authenticate", "X-Request-Id"),
            response.headers.map { it.name },
        )
        assertEquals("OathMesh error=\"${err.code}\"", response.headers[2].value)
        assertEquals(requestId, response.headers[3].value)
        val body = Repo.mapper.readTree(response.body)
        assertEquals(listOf("error", "message", "fix", "step", "request_id"), body.fieldNames().asSequence().toList())
        assertEquals(err.code, body["error"].asText())
        assertEquals(err.step, body["step"].asText())
        assertEquals(err.fix, body["fix"].asText())
        assertEquals(requestId, body["request_id"].asText())
        // Vectors that pin the rendered response: byte for byte.
        expect["response"]?.let { pinned ->
            assertEquals(pinned["status"].asInt(), response.status)
            pinned["body"]?.let { assertEquals(it.asText().replace("{request_id}", requestId), response.bodyText()) }
        }
    }

    private fun checkCaller(c: Caller, want: JsonNode) {
        fun opt(name: String): String? = want[name].let { if (it == null || it.isNull) null else it.asText() }
        assertEquals(want["issuer"].asText(), c.issuer)
        assertEquals(want["subject"].asText(), c.subject)
        assertEquals(want["audience"].asText(), c.audience)
        assertEquals(want["action"].asText(), c.action)
        assertEquals(want["token_id"].asText(), c.tokenId)
        assertEquals(want["issued_at"].asLong(), c.issuedAt.epochSecond)
        assertEquals(want["expires_at"].asLong(), c.expiresAt.epochSecond)
        assertEquals(want["scope"].map { it.asText() }, c.scope)
        assertEquals(opt("env"), c.env)
        assertEquals(opt("tenant"), c.tenant)
        assertEquals(opt("reason"), c.reason)
        assertEquals(opt("delegated_by"), c.delegatedBy)
        assertEquals(opt("policy_rule"), c.policyRule)
        val src = want["source"]
        if (src == null || src.isNull) {
            assertNull(c.source)
        } else {
            val s = c.source!!
            fun field(n: String): String? = src[n]?.asText()
            assertEquals(field("type"), s.type)
            assertEquals(field("repo"), s.repo)
            assertEquals(field("workflow"), s.workflow)
            assertEquals(field("run_id"), s.runId)
            assertEquals(field("sha"), s.sha)
        }
    }
}
