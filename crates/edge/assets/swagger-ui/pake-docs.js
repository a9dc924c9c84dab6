// PAKE's API page: swagger-ui rendering the edge's own /openapi.json. Relative URLs only, so
// the page also works behind a proxy that mounts the edge under a path prefix.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("../openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    // No call to validator.swagger.io (or anything else off this host).
    validatorUrl: null,
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
