/**
 * The DynamoDB tables, built from the shared key schemas so the cloud tables
 * and the local (dynalite) ones cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { TableName } from '../../functions/routes.js';
import { tableEnvVar, tableSchemas, type KeyAttribute } from '../../functions/adapters/table-schemas.js';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';

/** The DynamoDB item actions the code uses (see functions/adapters/dynamo-stores.ts). */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem';
export const READ_ACTIONS: readonly TableAction[] = ['GetItem', 'BatchGetItem', 'Query'];
export const WRITE_ACTIONS: readonly TableAction[] = ['PutItem', 'UpdateItem'];

export interface DataTablesProps {
  /** Destroy tables with the stack (dev stacks) instead of retaining them. @default false */
  destroyOnRemoval?: boolean;
}

const attr = (k: KeyAttribute): Attribute => ({
  name: k.name,
  type: k.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING,
});

export class DataTables extends Construct {
  readonly tables: Readonly<Record<TableName, Table>>;

  constructor(scope: Construct, id: string, props: DataTablesProps = {}) {
    super(scope, id);
    const destroy = props.destroyOnRemoval ?? false;
    const tables = {} as Record<TableName, Table>;
    for (const [name, schema] of Object.entries(tableSchemas) as Array<[TableName, (typeof tableSchemas)[TableName]]>) {
      const table = new Table(this, pascal(name), {
        partitionKey: attr(schema.partitionKey),
        ...(schema.sortKey && { sortKey: attr(schema.sortKey) }),
        ...(schema.ttlAttribute && { timeToLiveAttribute: schema.ttlAttribute }),
        // On-demand: an idle deployment costs nothing, and bursts need no capacity planning.
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryption.AWS_MANAGED,
        // Chat history is user data: keep it unless this is explicitly a throwaway stack.
        removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
        deletionProtection: !destroy,
      });
      for (const gsi of schema.globalIndexes ?? []) {
        table.addGlobalSecondaryIndex({
          indexName: gsi.indexName,
          partitionKey: attr(gsi.partitionKey),
          ...(gsi.sortKey && { sortKey: attr(gsi.sortKey) }),
        });
      }
      tables[name] = table;
    }
    this.tables = tables;
  }

  /** `{ROOMS_TABLE: <physical name>, …}` for the given tables. */
  env(names: readonly TableName[]): Record<string, string> {
    return Object.fromEntries(names.map((n) => [tableEnvVar[n], this.tables[n].tableName]));
  }

  /**
   * Grants exactly `actions` on one table (and, for `Query`, on its indexes by
   * name, never `index/*`). Replaces CDK's grantReadData/grantWriteData, which
   * add Scan, DeleteItem, BatchWriteItem, DescribeTable and stream reads that no
   * caller here uses.
   */
  grant(grantee: IGrantable, name: TableName, actions: readonly TableAction[]): void {
    if (actions.length === 0) return;
    const table = this.tables[name];
    const indexes = actions.includes('Query') ? (tableSchemas[name].globalIndexes ?? []).map((i) => `${table.tableArn}/index/${i.indexName}`) : [];
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...actions].sort().map((a) => `dynamodb:${a}`),
        resources: [table.tableArn, ...indexes],
      }),
    );
  }
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
