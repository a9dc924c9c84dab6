//! Generates the bare echo service (`bench.Echo/Echo`), the ceiling every scenario is compared
//! with, and the same service under PAKE's package (`pake.bench.Echo/Echo`), which PAKE's
//! authentication layer treats as one of its own methods (a token is required and verified).
//! Both come from a Rust definition: no `.proto` file and no protoc. The messages are
//! hand-written prost types in `src/scenarios/echo.rs`.

fn echo_service(package: &str) -> tonic_prost_build::manual::Service {
    tonic_prost_build::manual::Service::builder()
        .name("Echo")
        .package(package)
        .method(
            tonic_prost_build::manual::Method::builder()
                .name("echo")
                .route_name("Echo")
                .input_type("crate::scenarios::echo::EchoMessage")
                .output_type("crate::scenarios::echo::EchoMessage")
                .codec_path("tonic_prost::ProstCodec")
                .build(),
        )
        .build()
}

fn main() {
    tonic_prost_build::manual::Builder::new()
        .compile(&[echo_service("bench"), echo_service("pake.bench")]);
}
