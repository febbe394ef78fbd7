// The objection model of customer and staff accounts.
import { Model } from 'objection';

export class CustomerModel extends Model {
  static override tableName = 'customers';
  declare id: string;
  declare email: string;
  declare password_hash: string;
  declare name: string;
  declare role: 'customer' | 'staff' | 'admin';
  declare created_at: number;
  declare updated_at: number;
  declare tokens_valid_after: number;
  declare deleted_at: number | null;

  override $parseDatabaseJson(json: Record<string, unknown>) {
    const parsed = super.$parseDatabaseJson(json);
    for (const key of ['created_at', 'updated_at', 'tokens_valid_after', 'deleted_at']) if (parsed[key] != null) parsed[key] = Number(parsed[key]);
    return parsed;
  }
}
