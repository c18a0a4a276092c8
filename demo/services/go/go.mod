module github.com/oathmesh/oathmesh/demo/services/go

go 1.26

require github.com/oathmesh/oathmesh/bindings-c/go/oathmesh v0.0.0

replace github.com/oathmesh/oathmesh/bindings-c/go/oathmesh => ../../../bindings-c/go/oathmesh
