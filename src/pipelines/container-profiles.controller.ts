import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Problems } from '../common/problem';
import { Authorize } from '../keys/authorize.decorator';
import { PROFILE_NAME } from '../services/dto';
import { PipelinesService } from './pipelines.service';
import { ApiDone, ApiItems, ApiResource } from '../common/api-responses';
import { ContainerProfileSchema, ProfileDefinitionSchema } from './profile.schema';

/** Named profiles a container offers; a service's `profile` property (service:manage) selects one. */
@ApiTags('profiles')
@Controller('containers/:id/profiles')
export class ContainerProfilesController {
  constructor(private readonly pipelines: PipelinesService) {}

  private static checkName(name: string): void {
    if (!PROFILE_NAME.test(name))
      throw Problems.badRequest('a profile name is 1-100 letters, digits, . _ or -, starting with a letter or digit', {
        errors: [`bad profile name ${name.slice(0, 120)}`],
      });
  }

  @Get()
  @Authorize('container:read', 'container')
  @ApiOperation({ summary: 'The profiles this container offers its services, with how many services run each' })
  @ApiItems(ContainerProfileSchema, 'Every profile the container offers')
  list(@Param('id') containerId: string) {
    return this.pipelines.containerProfiles(containerId);
  }

  @Put(':name')
  @Authorize('container:update', 'container')
  @ApiOperation({ summary: 'Create or replace a named profile (same format as a service profile); the services running it pick it up at once' })
  @ApiBody({
    type: ProfileDefinitionSchema,
    examples: { checksums: { summary: 'An md5 of every new file', value: { ingest: { steps: [{ name: 'md5', task: 'md5' }] } } } },
  })
  @ApiResource(ContainerProfileSchema, 'The profile saved')
  put(@Param('id') containerId: string, @Param('name') name: string, @Body() body: unknown) {
    ContainerProfilesController.checkName(name);
    return this.pipelines.saveContainerProfile(containerId, name, body);
  }

  @Delete(':name')
  @HttpCode(204)
  @Authorize('container:update', 'container')
  @ApiOperation({ summary: 'Delete a named profile (409 while services run it)' })
  @ApiDone('Deleted')
  async remove(@Param('id') containerId: string, @Param('name') name: string) {
    ContainerProfilesController.checkName(name);
    await this.pipelines.deleteContainerProfile(containerId, name);
  }
}
