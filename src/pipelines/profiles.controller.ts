import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authorize } from '../keys/authorize.decorator';
import { PipelinesService } from './pipelines.service';
import { ApiResource } from '../common/api-responses';
import { ProfileDefinitionSchema, ProfileSchema } from './profile.schema';

@ApiTags('profiles')
@Controller('services/:id/profile')
export class ProfilesController {
  constructor(private readonly pipelines: PipelinesService) {}

  @Get()
  @Authorize('service:read', 'service')
  @ApiOperation({ summary: "The service's profile: for each trigger (ingest, update, access, periodic, manual) its pipeline of steps" })
  @ApiResource(ProfileSchema, 'The profile the service runs')
  get(@Param('id') serviceId: string) {
    return this.pipelines.profileOf(serviceId);
  }

  @Put()
  @Authorize('service:update', 'service')
  @ApiOperation({
    summary:
      'Replace the profile. Each step: task, options, `when` {mimetypes, minSize, maxSize} (data, never code), queue, `after` (step names; no cycles). periodic has a cron `schedule`. Every error is listed (400).',
  })
  @ApiBody({
    type: ProfileDefinitionSchema,
    examples: {
      pictures: {
        summary: 'A thumbnail for every picture, after its mimetype is known',
        value: {
          ingest: {
            steps: [
              { name: 'mime', task: 'mime' },
              { name: 'thumbnail', task: 'thumbnail', options: { width: 320, height: 200 }, when: { mimetypes: ['image/*'] }, after: ['mime'] },
            ],
          },
        },
      },
    },
  })
  @ApiResource(ProfileSchema, 'The profile saved')
  put(@Param('id') serviceId: string, @Body() body: unknown) {
    return this.pipelines.saveProfile(serviceId, body);
  }

  @Delete()
  @Authorize('service:update', 'service')
  @ApiOperation({ summary: 'Go back to the default profile (MServe’s ingest pipeline)' })
  @ApiResource(ProfileSchema, 'The profile the service runs now')
  reset(@Param('id') serviceId: string) {
    return this.pipelines.resetProfile(serviceId);
  }
}
