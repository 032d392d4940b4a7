import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, Nullable } from '../common/api-responses';
import { KeySchema } from '../keys/key.schema';
import type { presentUser } from './auth.service';

/** A person who logs in to the console. */
@ApiSchema({ name: 'User' })
export class UserSchema implements ReturnType<typeof presentUser> {
  @ApiProperty({ format: 'uuid' }) id: string;
  @Nullable({ type: String }) username: string | null;
  @Nullable({ type: String }) email: string | null;
  @Nullable({ type: String }) displayName: string | null;
  @ApiProperty({ enum: ['oidc', 'password'], description: 'How they log in' }) provider: 'oidc' | 'password';
  @ApiProperty() disabled: boolean;
  @Nullable(DATE_TIME) lastLoginAt: Date | null;
  @ApiProperty(DATE_TIME) createdAt: Date;
}

/** A key the console holds for its user: in the session, or saved in the user's wallet. */
@ApiSchema({ name: 'HeldKey' })
export class HeldKeySchema extends KeySchema {
  @ApiProperty({ description: "Saved in the user's wallet (false: in this session only)" }) saved: boolean;
  @Nullable({ type: String, description: 'The name of the resource it opens' }) resourceName: string | null;
}

@ApiSchema({ name: 'OidcState' })
class OidcStateSchema {
  @ApiProperty() enabled: boolean;
  @ApiProperty({ description: 'The login button’s label' }) label: string;
}

/** The console's session: who is logged in, the CSRF token to send back, the keys it holds. */
@ApiSchema({ name: 'Session' })
export class SessionSchema {
  @Nullable({ type: UserSchema }) user: UserSchema | null;
  @ApiProperty({ description: 'Send it back as X-CSRF-Token on every change' }) csrfToken: string;
  @ApiProperty({ type: [HeldKeySchema] }) keys: HeldKeySchema[];
  @ApiProperty({ type: OidcStateSchema }) oidc: OidcStateSchema;
  @Nullable(DATE_TIME) expiresAt: Date | null;
}
