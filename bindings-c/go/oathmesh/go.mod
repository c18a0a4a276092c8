module github.com/oathmesh/oathmesh/bindings-c/go/oathmesh

go 1.26
