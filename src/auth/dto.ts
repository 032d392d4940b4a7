import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class LoginDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(64) username: string;
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(1024) password: string;
}

export class AddKeyDto {
  @ApiProperty({ description: 'A key secret (msk_...) or a share link ending in /browse/<key>' }) @IsString() @MinLength(1) @MaxLength(2048) key: string;
  @ApiPropertyOptional({ description: "Also keep it in the logged-in user's wallet" }) @IsOptional() @IsBoolean() save?: boolean;
}

export class ChangeHeldKeyDto {
  @ApiProperty({ description: "true: keep the key in the user's wallet; false: only in this session" }) @IsBoolean() save: boolean;
}

export class ChangePasswordDto {
  @ApiPropertyOptional({ description: 'The current password (required when the account has one)' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  currentPassword?: string;
  @ApiProperty() @IsString() @MaxLength(1024) password: string;
}

export const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export class CreateUserDto {
  @ApiProperty({ description: '1-64 letters, digits, . _ -' })
  @Matches(USERNAME, { message: 'username must be 1-64 letters, digits, . _ or - (starting with a letter or digit)' })
  username: string;
  @ApiPropertyOptional({ description: 'At least 10 characters; omit for an account that only logs in once a password is set' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  password?: string;
  @ApiPropertyOptional() @IsOptional() @IsEmail() @MaxLength(320) email?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) displayName?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) password?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() disabled?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) displayName?: string;
}

export class GiveKeyDto {
  @ApiProperty({ description: "The secret of the key to put in the user's wallet (proves you hold it)" })
  @IsString()
  @MinLength(1)
  @MaxLength(2048)
  key: string;
}
