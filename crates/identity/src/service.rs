//! The gRPC adapter of the identity service. Methods not implemented yet answer UNIMPLEMENTED
//! through the generated default bodies and are listed in `UNIMPLEMENTED.md`.

use pake_api::identity::identity_service_server::{self, IdentityServiceServer};
use pake_api::identity::{GetJwksRequest, GetJwksResponse, JsonWebKey};
use tonic::{Request, Response, Status};

use crate::signing_key::SigningKey;

/// `pake.identity.v1.IdentityService`.
#[derive(Clone, Debug)]
pub struct IdentityService {
    signing_key: SigningKey,
}

impl IdentityService {
    /// A service signing with `signing_key`.
    pub fn new(signing_key: SigningKey) -> Self {
        IdentityService { signing_key }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> IdentityServiceServer<Self> {
        IdentityServiceServer::new(self)
    }

    fn jwks(&self) -> Vec<JsonWebKey> {
        vec![JsonWebKey {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: self.signing_key.public_key_b64(),
            y: String::new(),
            kid: self.signing_key.kid().to_owned(),
            alg: "EdDSA".to_owned(),
            r#use: "sig".to_owned(),
        }]
    }
}

#[tonic::async_trait]
impl identity_service_server::IdentityService for IdentityService {
    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        Ok(Response::new(GetJwksResponse { keys: self.jwks() }))
    }
}
