// The verified caller, as plain getters for Java and properties for Kotlin.
package io.oathmesh

import java.time.Instant
import io.oathmesh.ffi.Caller as NativeCaller

/** Where a CI-minted identity came from (`src`). */
class Source internal constructor(
    /** `src.type`, e.g. `github-actions`. */
    val type: String?,
    val repo: String?,
    val workflow: String?,
    val runId: String?,
    val sha: String?,
)

/** Who called, as the token proved it. Immutable. */
class Caller internal constructor(n: NativeCaller) {
    val issuer: String = n.issuer
    val subject: String = n.subject
    val audience: String = n.audience
    val action: String = n.action
    val tokenId: String = n.tokenId
    val issuedAtEpochSecond: Long = n.issuedAt
    val expiresAtEpochSecond: Long = n.expiresAt
    val scope: List<String> = java.util.Collections.unmodifiableList(ArrayList(n.scope))
    val env: String? = n.env
    val tenant: String? = n.tenant
    val reason: String? = n.reason
    val source: Source? = n.source?.let { Source(it.kind, it.repo, it.workflow, it.runId, it.sha) }
    val delegatedBy: String? = n.delegatedBy
    /** The policy rule that allowed the call; null when no policy is configured. */
    val policyRule: String? = n.policyRule

    val issuedAt: Instant get() = Instant.ofEpochSecond(issuedAtEpochSecond)
    val expiresAt: Instant get() = Instant.ofEpochSecond(expiresAtEpochSecond)

    override fun toString(): String = "Caller(subject=$subject, action=$action, issuer=$issuer, tokenId=$tokenId)"
}
