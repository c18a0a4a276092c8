// The exceptions a user catches. All are unchecked (RuntimeException) so Java callers are not
// forced into `throws` clauses; each verification failure family has its own class, as in
// the Python SDK, and carries the core's code, step, status, fix and rendered response.
package io.oathmesh

import io.oathmesh.ffi.OathMeshException as NativeError

/** Root of every exception this SDK throws. */
abstract class OathMeshException internal constructor(
    message: String,
    /** Stable machine-readable code (`token_expired`, `claim_invalid:aud`, `mint_denied`, ...). */
    val code: String,
    cause: Throwable? = null,
) : RuntimeException(message, cause)

/** The HTTP answer to send for a refused request, exactly as the core renders it. */
class FailureResponse internal constructor(
    val status: Int,
    /** Header name/value pairs, in the order to send them. */
    val headers: List<Header>,
    private val bodyBytes: ByteArray,
) {
    class Header internal constructor(val name: String, val value: String)

    /** The JSON body bytes (a fresh copy). */
    val body: ByteArray get() = bodyBytes.copyOf()

    /** The JSON body as text. */
    fun bodyText(): String = String(bodyBytes, Charsets.UTF_8)
}

/** A token was refused. Subclasses name the family; [code] may add a `:<claim>` suffix. */
open class VerificationException internal constructor(
    /** The core's stable error-kind number. */
    val kind: Int,
    code: String,
    /** The pipeline step that refused the token (`00` to `14`, PROTOCOL §3). */
    val step: String,
    /** The HTTP status a receiver answers with (401, 403, 413 or 503). */
    val status: Int,
    /** What the caller or operator can do about it. */
    val fix: String,
    /** The policy rule that denied, when a policy did. */
    val policyRule: String?,
    /** The full response to send back. */
    val response: FailureResponse,
    detail: String,
) : OathMeshException("$code (step $step): $detail", code) {
    internal constructor(e: NativeError.Verify) : this(
        e.kind.toInt(), e.code, e.step, e.status.toInt(), e.fix, e.policyRule,
        FailureResponse(
            e.response.status.toInt(),
            e.response.headers.map { FailureResponse.Header(it.name, it.value) },
            e.response.body,
        ),
        e.detail,
    )

    /** The claim a `claim_missing`/`claim_invalid` code names, else null. */
    val claim: String? get() = code.substringAfter(':', "").ifEmpty { null }
}

class TokenMalformedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class AlgorithmNotAllowedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class ClaimMissingException internal constructor(e: NativeError.Verify) : VerificationException(e)
class ClaimInvalidException internal constructor(e: NativeError.Verify) : VerificationException(e)
class IssuerUntrustedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class KeyNotFoundException internal constructor(e: NativeError.Verify) : VerificationException(e)
class SignatureInvalidException internal constructor(e: NativeError.Verify) : VerificationException(e)
class TokenExpiredException internal constructor(e: NativeError.Verify) : VerificationException(e)
class TokenNotYetValidException internal constructor(e: NativeError.Verify) : VerificationException(e)
class AudienceMismatchException internal constructor(e: NativeError.Verify) : VerificationException(e)
class BindingRequiredException internal constructor(e: NativeError.Verify) : VerificationException(e)
class BindingMismatchException internal constructor(e: NativeError.Verify) : VerificationException(e)
class SubjectRevokedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class PolicyDeniedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class ReplayDetectedException internal constructor(e: NativeError.Verify) : VerificationException(e)
class RequestBodyTooLargeException internal constructor(e: NativeError.Verify) : VerificationException(e)

/** A backend (JWKS endpoint, revocation list, replay cache) failed: retrying may succeed (503). */
open class UnavailableException internal constructor(e: NativeError.Verify) : VerificationException(e)
class JwksUnavailableException internal constructor(e: NativeError.Verify) : UnavailableException(e)
class RevocationUnavailableException internal constructor(e: NativeError.Verify) : UnavailableException(e)
class ReplayCacheUnavailableException internal constructor(e: NativeError.Verify) : UnavailableException(e)

/** A configuration document was refused. */
class ConfigException internal constructor(message: String) : OathMeshException(message, "config_invalid")

/** A mint request was refused before signing (`claim_invalid:<claim>`, `signer_failed`). */
class MintException internal constructor(code: String, message: String) : OathMeshException("$code: $message", code)

/** The issuer refused a mint, or could not be reached (`issuer_unavailable`, 503). */
class IssuerException internal constructor(
    code: String,
    val status: Int,
    val fix: String,
    message: String,
) : OathMeshException("$code ($status): $message", code)

/** A bug in the native core or a wrong argument; never a verdict on a token. */
class InternalException internal constructor(message: String, cause: Throwable? = null) :
    OathMeshException(message, "internal_error", cause)

/** Maps the generated error to this SDK's classes; the table is keyed on the core's stable
 *  kind numbers (checked against the core by ErrorFamiliesTest). */
internal object Errors {
    private val families: Map<Int, (NativeError.Verify) -> VerificationException> = mapOf(
        1 to ::TokenMalformedException,
        2 to ::AlgorithmNotAllowedException,
        3 to ::ClaimMissingException,
        4 to ::ClaimInvalidException,
        5 to ::IssuerUntrustedException,
        6 to ::KeyNotFoundException,
        7 to ::JwksUnavailableException,
        8 to ::SignatureInvalidException,
        9 to ::TokenExpiredException,
        10 to ::TokenNotYetValidException,
        11 to ::AudienceMismatchException,
        12 to ::BindingRequiredException,
        13 to ::BindingMismatchException,
        14 to ::SubjectRevokedException,
        15 to ::RevocationUnavailableException,
        16 to ::PolicyDeniedException,
        17 to ::ReplayDetectedException,
        18 to ::ReplayCacheUnavailableException,
        19 to ::RequestBodyTooLargeException,
    )

    /** The kinds this SDK has a class for. */
    val knownKinds: Set<Int> get() = families.keys

    fun from(e: Throwable): OathMeshException = when (e) {
        is NativeError.Verify -> families[e.kind.toInt()]?.invoke(e) ?: GenericVerification(e)
        is NativeError.Config -> ConfigException(e.detail)
        is NativeError.Mint -> MintException(e.code, e.detail)
        is NativeError.Issuer -> IssuerException(e.code, e.status.toInt(), e.fix, e.detail)
        is NativeError.Usage -> InternalException(e.detail)
        is OathMeshException -> e
        else -> InternalException("internal error in the OathMesh core: ${e.message}", e)
    }

    /** Runs a native call, rethrowing its failure as this SDK's exception. */
    inline fun <T> call(block: () -> T): T = try {
        block()
    } catch (e: NativeError) {
        throw from(e)
    } catch (e: io.oathmesh.ffi.InternalException) {
        throw from(e)
    }
}

/** A kind newer than this SDK: still a VerificationException with every field. */
internal class GenericVerification(e: NativeError.Verify) : VerificationException(e)
