/**
 * Who issues the JWTs that the HTTP API and the relays accept: the deployer's
 * own provider (issuer + audience + JWKS from context), or a Cognito user pool
 * and app client created here when none is given.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccountRecovery, FeaturePlan, UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { ExternalJwt } from './config.js';

export interface IdentityProps {
  /** Bring-your-own provider; when absent a Cognito user pool is created. */
  external?: ExternalJwt;
  /** Destroy the user pool with the stack (dev stacks). @default false */
  destroyOnRemoval?: boolean;
}

export class Identity extends Construct {
  readonly issuer: string;
  /** Audience the API authorizer and the relays require (Cognito: the app client id). */
  readonly audience: string;
  readonly jwksUrl: string;
  readonly userPool?: UserPool;
  readonly userPoolClient?: UserPoolClient;

  constructor(scope: Construct, id: string, props: IdentityProps = {}) {
    super(scope, id);
    if (props.external) {
      ({ issuer: this.issuer, audience: this.audience, jwksUrl: this.jwksUrl } = props.external);
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
    // A public client (SPA / mobile): no secret, SRP sign-in only, short-lived tokens.
    const client = pool.addClient('AppClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
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
    this.userPool = pool;
    this.userPoolClient = client;
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${pool.userPoolId}`;
    this.audience = client.userPoolClientId;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
  }
}
