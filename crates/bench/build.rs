//! Generates the bare echo service (`bench.Echo/Echo`), the ceiling every scenario is compared
//! with, from a Rust definition: no `.proto` file and no protoc. The messages are hand-written
//! prost types in `src/scenarios/echo.rs`.

fn main() {
    let echo = tonic_prost_build::manual::Service::builder()
        .name("Echo")
        .package("bench")
        .method(
            tonic_prost_build::manual::Method::builder()
                .name("echo")
                .route_name("Echo")
                .input_type("crate::scenarios::echo::EchoMessage")
                .output_type("crate::scenarios::echo::EchoMessage")
                .codec_path("tonic_prost::ProstCodec")
                .build(),
        )
        .build();
    tonic_prost_build::manual::Builder::new().compile(&[echo]);
}
