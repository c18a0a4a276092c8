// Spring Boot auto-configuration: with `oathmesh.verifier-config` (inline JSON) or
// `oathmesh.verifier-config-file` set, a Verifier bean and the OathMeshFilter on
// `oathmesh.url-patterns` (default `/*`) are registered.
package io.oathmesh.spring

import io.oathmesh.Verifier
import io.oathmesh.servlet.OathMeshFilter
import org.springframework.boot.autoconfigure.AutoConfiguration
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication
import org.springframework.boot.web.servlet.FilterRegistrationBean
import org.springframework.context.annotation.Bean
import org.springframework.context.annotation.Condition
import org.springframework.context.annotation.ConditionContext
import org.springframework.context.annotation.Conditional
import org.springframework.core.type.AnnotatedTypeMetadata
import org.springframework.core.Ordered
import org.springframework.core.env.Environment
import java.nio.file.Files
import java.nio.file.Path

@AutoConfiguration
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(FilterRegistrationBean::class, jakarta.servlet.Filter::class)
@Conditional(OathMeshAutoConfiguration.Configured::class)
class OathMeshAutoConfiguration {
    /** The service's verifier, closed with the application context. */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    fun oathMeshVerifier(env: Environment): Verifier {
        val inline = env.getProperty("oathmesh.verifier-config")
        val file = env.getProperty("oathmesh.verifier-config-file")
        require(inline.isNullOrEmpty() || file.isNullOrEmpty()) {
            "set oathmesh.verifier-config or oathmesh.verifier-config-file, not both"
        }
        val json = if (!inline.isNullOrEmpty()) inline else Files.readString(Path.of(file!!))
        return Verifier.fromJson(json)
    }

    @Bean
    @ConditionalOnMissingBean(name = ["oathMeshFilter"])
    fun oathMeshFilter(verifier: Verifier, env: Environment): FilterRegistrationBean<OathMeshFilter> {
        val maxBody = env.getProperty("oathmesh.max-body-bytes", Int::class.javaObjectType, OathMeshFilter.DEFAULT_MAX_BODY_BYTES)
        val patterns = env.getProperty("oathmesh.url-patterns", "/*").split(',').map { it.trim() }.filter { it.isNotEmpty() }
        return FilterRegistrationBean(OathMeshFilter(verifier, maxBody)).apply {
            setName("oathMeshFilter")
            setUrlPatterns(patterns)
            // Before the application's own filters: nothing runs for an unverified caller.
            order = Ordered.HIGHEST_PRECEDENCE + 10
        }
    }

    /** On when a verifier document is configured, inline or as a file. */
    class Configured : Condition {
        override fun matches(context: ConditionContext, metadata: AnnotatedTypeMetadata): Boolean =
            listOf("oathmesh.verifier-config", "oathmesh.verifier-config-file")
                .any { !context.environment.getProperty(it).isNullOrEmpty() }
    }
}
