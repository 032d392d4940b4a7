import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { ContainersService } from './containers.service';
import { CreateContainerDto, ListContainersQuery, UpdateContainerDto } from './dto';
import { ApiDone, ApiPage, ApiResource } from '../common/api-responses';
import { ContainerSchema, CreatedContainerSchema } from './container.schema';

@ApiTags('containers')
@Controller('containers')
export class ContainersController {
  constructor(private readonly containers: ContainersService) {}

  @Post()
  @Authorize('container:create')
  @ApiOperation({ summary: 'Create a container; the response carries its containeradmin key, shown once' })
  @ApiResource(CreatedContainerSchema, 'The container, with its containeradmin `key` (shown once) and `keyId`', 201)
  create(@Auth() auth: RequestAuth, @Body() dto: CreateContainerDto) {
    return this.containers.create(auth, dto);
  }

  @Get()
  @Authorize('container:read')
  @ApiOperation({ summary: "List the containers in the key's scope" })
  @ApiPage(ContainerSchema, 'A page of the containers')
  list(@Auth() auth: RequestAuth, @Query() query: ListContainersQuery) {
    return this.containers.list(auth, query);
  }

  @Get(':id')
  @Authorize('container:read', 'container')
  @ApiOperation({ summary: 'Read a container' })
  @ApiResource(ContainerSchema, 'The container')
  get(@Param('id') id: string) {
    return this.containers.get(id);
  }

  @Patch(':id')
  @Authorize('container:update', 'container')
  @ApiOperation({ summary: 'Rename or describe a container' })
  @ApiResource(ContainerSchema, 'The container as it is now')
  update(@Auth() auth: RequestAuth, @Param('id') id: string, @Body() dto: UpdateContainerDto) {
    return this.containers.update(auth, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('container:delete', 'container')
  @ApiOperation({ summary: 'Delete a container with all its services, files, jobs and keys' })
  @ApiDone('Deleted, with everything inside')
  async remove(@Param('id') id: string) {
    await this.containers.remove(id);
  }
}
