package io.oathmesh

/** A real key pair, issuer and matching verifier document for the tests. */
class Fixture(
    val audience: String = "https://payments.oathmesh.test",
    val issuerUrl: String = "https://issuer.oathmesh.test",
    extra: Map<String, Any?> = emptyMap(),
) : AutoCloseable {
    val key: KeyPair = OathMesh.generateKey()
    val issuer: Issuer = Issuer.fromJson(
        Repo.mapper.writeValueAsString(mapOf("issuer" to issuerUrl, "private_key_pem" to key.privatePem)),
    )
    val verifierConfig: String = Repo.mapper.writeValueAsString(
        mapOf(
            "audience" to audience,
            "trusted_issuers" to listOf(issuerUrl),
            "jwks" to Repo.mapper.readTree(issuer.jwksJson()),
        ) + extra,
    )

    fun mint(act: String = "charge", sub: String = "svc://checkout", more: Map<String, Any?> = emptyMap()): Token =
        issuer.mint(Repo.mapper.writeValueAsString(mapOf("sub" to sub, "aud" to audience, "act" to act) + more))

    override fun close() = issuer.close()
}
