// Outgoing calls: one fresh token per request from the issuer, attached only for the
// origins this client was configured for (issue 18.2: never to a host a redirect names).
package io.oathmesh.http

import io.oathmesh.Client
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/**
 * Sends requests through a [HttpClient] with `Authorization: OathMesh <token>` minted per
 * request by [client] from [mintRequestJson]. With [bind], each token is bound (`rqh`) to
 * the exact method, path, query and body being sent.
 *
 * Tokens go only to [allowedOrigins] (`scheme://host[:port]`); a request to any other
 * origin is refused with [IllegalArgumentException]. Redirects are never followed with a
 * token: the wrapped client must not follow them ([HttpClient.Redirect.NEVER], the
 * default), and a 3xx answer is returned to the caller as it is.
 */
class OathMeshHttpClient @JvmOverloads constructor(
    private val client: Client,
    private val mintRequestJson: String,
    allowedOrigins: Collection<String>,
    private val bind: Boolean = false,
    private val http: HttpClient = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build(),
) {
    private val origins: Set<String> = allowedOrigins.map { origin(URI.create(it)) }.toSet()

    init {
        require(origins.isNotEmpty()) { "at least one allowed origin is required" }
        require(http.followRedirects() == HttpClient.Redirect.NEVER) {
            "the wrapped HttpClient must not follow redirects (a redirect would carry the token to another host)"
        }
    }

    /** Sends [method] [uri] with [body] (empty for none), adding the token and [headers]. */
    @JvmOverloads
    fun <T> send(
        method: String,
        uri: URI,
        body: ByteArray,
        handler: HttpResponse.BodyHandler<T>,
        headers: Map<String, String> = emptyMap(),
    ): HttpResponse<T> {
        require(origin(uri) in origins) { "no OathMesh token for ${origin(uri)}: not an allowed origin" }
        val token = if (bind) {
            client.mintForRequest(mintRequestJson, method, pathAndQuery(uri), body)
        } else {
            client.mint(mintRequestJson)
        }
        val builder = HttpRequest.newBuilder(uri)
            .method(method, if (body.isEmpty()) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofByteArray(body))
        for ((name, value) in headers) builder.header(name, value)
        builder.header("Authorization", token.authorization)
        return http.send(builder.build(), handler)
    }

    companion object {
        /** `scheme://host:port`, lowercased, with the default port made explicit. */
        @JvmStatic
        fun origin(uri: URI): String {
            val scheme = requireNotNull(uri.scheme) { "absolute URL required: $uri" }.lowercase()
            val host = requireNotNull(uri.host) { "absolute URL required: $uri" }.lowercase()
            val port = when {
                uri.port != -1 -> uri.port
                scheme == "https" -> 443
                scheme == "http" -> 80
                else -> throw IllegalArgumentException("http or https URL required: $uri")
            }
            return "$scheme://$host:$port"
        }

        /** Path and query exactly as they go on the wire. */
        @JvmStatic
        fun pathAndQuery(uri: URI): String {
            val path = uri.rawPath.ifEmpty { "/" }
            return if (uri.rawQuery == null) path else "$path?${uri.rawQuery}"
        }
    }
}
