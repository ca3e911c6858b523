/**
 * The DynamoDB tables, built from the shared key schemas so the cloud tables
 * and the local (dynalite) ones cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { TableAction } from '../../functions/routes.js';
import { tableEnvVar, tables as tableDefinitions, type KeyAttribute, type TableName } from '../../shared/tables.js';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';

/** DynamoDB actions as routes declare them (functions/routes.ts): on a table, or `Query:{index}`. */
export type { TableAction } from '../../functions/routes.js';

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
    for (const [name, schema] of Object.entries(tableDefinitions) as Array<[TableName, (typeof tableDefinitions)[TableName]]>) {
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
   * Grants exactly `actions` on one table: item actions on the table itself,
   * `Query:{index}` as Query on that index by name (never `index/*`), each in
   * its own statement so a table Query does not open the indexes or the other
   * way round. Replaces CDK's grantReadData/grantWriteData, which add Scan,
   * DeleteItem, BatchWriteItem, DescribeTable and stream reads that no caller
   * here uses. Throws on an index the table does not have.
   */
  grant(grantee: IGrantable, name: TableName, actions: readonly TableAction[]): void {
    const table = this.tables[name];
    const known = new Set((tableDefinitions[name].globalIndexes ?? []).map((i) => i.indexName));
    const onTable = [...new Set(actions.filter((a) => !a.includes(':')))].sort();
    const indexes = [...new Set(actions.filter((a) => a.startsWith('Query:')).map((a) => a.slice('Query:'.length)))].sort();
    const unknown = indexes.filter((i) => !known.has(i));
    if (unknown.length) throw new Error(`Table ${name} has no index ${unknown.join(', ')} (shared/tables.ts)`);
    if (onTable.length) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ actions: onTable.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }),
      );
    }
    if (indexes.length) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['dynamodb:Query'], resources: indexes.map((i) => `${table.tableArn}/index/${i}`) }),
      );
    }
  }
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
