package io.oathmesh

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.ObjectMapper
import java.nio.file.Path

/** The repository checkout the tests run in (set by surefire). */
object Repo {
    val root: Path = Path.of(System.getProperty("oathmesh.repo") ?: "..").toAbsolutePath().normalize()
    val mapper = ObjectMapper()

    fun vectors(): JsonNode = mapper.readTree(root.resolve("conformance-vectors/vectors.json").toFile())
}
