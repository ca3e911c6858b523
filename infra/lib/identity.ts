/**
 * Who issues the JWTs that the HTTP API and the relays accept: the deployer's
 * own provider (issuer + audience + JWKS from context), or a Cognito user pool
 * and app client created here when none is given.
 *
 * Server-to-server calls (`POST /notifications`) need a token with the notify
 * scope. With Cognito, this creates a resource server (`townsquare`) with the
 * scope `notify`, a confidential app client that may only use the
 * client-credentials grant for it, and the pool domain whose
 * `/oauth2/token` endpoint issues those tokens. Such an access token carries
 * `client_id` (no `aud`) and the client id as its `sub`. With your own
 * provider, its machine tokens must carry `notifyScope` (default `notify`) and
 * `notifyAudience` when given (a machine audience of its own: then no end-user
 * token is admitted however it is scoped), else the end users' audience, with a
 * synth warning: an end user who can ask the provider for that scope can notify.
 */
import { Annotations, Aws, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  CfnUserPoolClient,
  FeaturePlan,
  OAuthScope,
  ResourceServerScope,
  UserPool,
  UserPoolClient,
  UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { ExternalJwt } from './config.js';

export interface IdentityProps {
  /** Bring-your-own provider; when absent a Cognito user pool is created. */
  external?: ExternalJwt;
  /** Destroy the user pool with the stack (dev stacks). @default false */
  destroyOnRemoval?: boolean;
}

/** The Cognito resource server's identifier and its scope: tokens carry `townsquare/notify`. */
export const NOTIFY_RESOURCE_SERVER = 'townsquare';
export const NOTIFY_SCOPE_NAME = 'notify';

/** Who may call the server-to-server routes, and with which scope. */
export interface NotifyAuth {
  /** The scope string as tokens carry it (Cognito: `townsquare/notify`). */
  scope: string;
  /**
   * Audiences (Cognito: app client ids) that route's authorizer admits. Cognito: the
   * machine client's, and the end users' too, so that an end-user token gets 403 for
   * the missing scope rather than 401 (the users' client has no OAuth flows, so it can
   * never carry the scope). Your own provider: `notifyAudience`, else the users' audience.
   */
  audiences: string[];
}

export class Identity extends Construct {
  readonly issuer: string;
  /** Audience the API authorizer and the relays require (Cognito: the app client id). */
  readonly audience: string;
  readonly jwksUrl: string;
  readonly userPool?: UserPool;
  readonly userPoolClient?: UserPoolClient;
  readonly notify: NotifyAuth;
  /** Cognito only: the client-credentials app client of backends, and where they get tokens. */
  readonly notifyClient?: UserPoolClient;
  readonly tokenEndpoint?: string;

  constructor(scope: Construct, id: string, props: IdentityProps = {}) {
    super(scope, id);
    if (props.external) {
      ({ issuer: this.issuer, audience: this.audience, jwksUrl: this.jwksUrl } = props.external);
      this.notify = { scope: props.external.notifyScope ?? NOTIFY_SCOPE_NAME, audiences: [props.external.notifyAudience ?? props.external.audience] };
      if (!props.external.notifyAudience) {
        Annotations.of(this).addWarningV2(
          'townsquare:sharedNotifyAudience',
          `POST /notifications admits any token of audience ${props.external.audience} with scope ${this.notify.scope}: ` +
            'make sure end users cannot obtain that scope (Auth0: enable RBAC on the API), or set jwtNotifyAudience to a machine audience of its own (docs/deploy.md).',
        );
      }
      return;
    }
    const pool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      featurePlan: FeaturePlan.ESSENTIALS,
      removalPolicy: props.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      deletionProtection: !props.destroyOnRemoval,
    });
    // A public client (SPA / mobile): no secret, SRP sign-in only, short-lived tokens. No OAuth flows:
    // CDK's default (implicit and code grants, callback https://example.com) would be live on the pool's domain.
    const client = pool.addClient('AppClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
      disableOAuth: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      preventUserExistenceErrors: true,
    });
    Validations.of(pool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'MFA is the application owner\'s choice per user population; the default pool is a starting point and documents how to require it (docs/deploy.md).',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is billed per monthly active user; left to the deployer. Self sign-up is disabled, which removes the main abuse path.',
      },
    );

    // Backends: a confidential client limited to the client-credentials grant for the notify scope.
    const notifyScope = new ResourceServerScope({ scopeName: NOTIFY_SCOPE_NAME, scopeDescription: 'POST /notifications (server to server)' });
    const resourceServer = pool.addResourceServer('ResourceServer', { identifier: NOTIFY_RESOURCE_SERVER, scopes: [notifyScope] });
    const notifyClient = pool.addClient('NotifyClient', {
      generateSecret: true,
      authFlows: {},
      oAuth: { flows: { clientCredentials: true }, scopes: [OAuthScope.resourceServer(resourceServer, notifyScope)] },
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
    });
    // The token endpoint lives on the pool's domain; the prefix must be unique in the Region across all accounts.
    const domain = new UserPoolDomain(this, 'Domain', { userPool: pool, cognitoDomain: { domainPrefix: cognitoDomainPrefix(Stack.of(this).stackName) } });
    // No sign-in flows at all (an empty authFlows writes none, and Cognito then allows SRP, refresh and custom
    // auth by default): this client only ever uses the client-credentials grant.
    (notifyClient.node.defaultChild as CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
    this.notifyClient = notifyClient;
    this.tokenEndpoint = `${domain.baseUrl()}/oauth2/token`;

    this.userPool = pool;
    this.userPoolClient = client;
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${pool.userPoolId}`;
    this.audience = client.userPoolClientId;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
    this.notify = { scope: `${NOTIFY_RESOURCE_SERVER}/${NOTIFY_SCOPE_NAME}`, audiences: [client.userPoolClientId, notifyClient.userPoolClientId] };
  }
}

/**
 * A Cognito domain prefix for the stack: its name (lower case, without the words Cognito
 * refuses in a prefix: aws, amazon, cognito) and the first block of the stack's own UUID,
 * so that two stacks never share one and no account id ends up in a public URL.
 */
export function cognitoDomainPrefix(stackName: string): string {
  const name = stackName
    .toLowerCase()
    .replace(/aws|amazon|cognito/g, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30);
  const stackUuidHead = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
  return `${name || 'townsquare'}-${stackUuidHead}`;
}
