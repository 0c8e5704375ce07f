// A real OpenID provider for the browser tests: npm's oidc-provider (a certified OpenID
// Connect implementation) with its development sign-in pages, on a free loopback port.
// Prints its issuer URL on the first line of stdout, then serves until killed.
//
// Environment: REDIRECT_URI (aws-jit's /auth/callback), CLIENT_SECRET, and CODE_TTL
// (seconds an authorization code lives; short, so that a test can let one expire).
import http from "node:http";
import Provider from "oidc-provider";

const redirectUri = process.env.REDIRECT_URI;
const clientSecret = process.env.CLIENT_SECRET;
if (!redirectUri || !clientSecret) {
  console.error("oidc-provider.mjs needs REDIRECT_URI and CLIENT_SECRET");
  process.exit(2);
}
const codeTtl = Number(process.env.CODE_TTL || "60");

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "aws-jit",
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // Whoever signs in on the development pages is the account of that login: its email
    // is the login itself, verified.
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: sub, email_verified: true, name: sub };
        },
      };
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile"],
    pkce: { required: () => true },
    ttl: { AuthorizationCode: codeTtl, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
    cookies: { keys: ["browser-tests-only-cookie-key"] },
    features: { devInteractions: { enabled: true } },
  });
  provider.proxy = false;
  server.on("request", provider.callback());
  process.stdout.write(`${issuer}\n`);
});
