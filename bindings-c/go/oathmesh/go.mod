module github.com/oathmesh/oathmesh/bindings-c/go/oathmesh

go 1.26

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/golang-jwt/jwt/v5 v5.3.1
)
