//! Compiles the project's own protobuf schema with protox, so no system protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../proto";
    let schema = "../proto/oculus/segment/v1/segment.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], [proto_root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
