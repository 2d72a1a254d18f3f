import { Type } from 'typebox';
import { ROLES } from '../../auth/permissions.js';
import { defineRoute, PAGE_FIELDS, Page, PageQuery, strict, Timestamp, Uuid } from '../../rest/route.js';

/** The organization's members over REST. A member is named by their user id (`id` and `user_id`). */

export const MEMBER = `fragment RestMember on Member { user { id email name } role joined_at: joinedAt }`;
const Role = Type.Enum([...ROLES]);
export const Member = Type.Object({
  id: Uuid,
  user_id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: Role,
  joined_at: Timestamp,
});

type MemberData = { user: { id: string; email: string; name: string }; role: string; joined_at: string };
const memberJson = ({ user, role, joined_at }: MemberData) => ({
  id: user.id,
  user_id: user.id,
  email: user.email,
  name: user.name,
  role,
  joined_at,
});

const ById = Type.Object({ id: Uuid }, strict);

export const memberRoutes = [
  defineRoute({
    name: 'listMembers',
    method: 'GET',
    url: '/v1/members',
    tag: 'Members',
    summary: 'List team members',
    permission: 'member:read',
    query: Type.Object(PageQuery, strict),
    status: 200,
    response: Page(Member),
    operation: `query RestMembers($limit: Int, $offset: Int) {
      members(limit: $limit, offset: $offset) { data { ...RestMember } ${PAGE_FIELDS} }
    } ${MEMBER}`,
    variables: ({ query }) => query,
    result: (data) => ({ ...data.members, data: data.members.data.map(memberJson) }),
  }),
  defineRoute({
    name: 'updateMember',
    method: 'PUT',
    url: '/v1/members/:id',
    tag: 'Members',
    summary: 'Update member role',
    description: 'Only owners grant or take away the owner role; an organization keeps at least one owner.',
    permission: 'member:manage',
    params: ById,
    body: Type.Object({ role: Role }, strict),
    status: 200,
    response: Member,
    operation: `mutation RestUpdateMember($id: ID!, $role: Role!) {
      updateMemberRole(userId: $id, role: $role) { ...RestMember }
    } ${MEMBER}`,
    variables: ({ params, body }) => ({ id: params.id, role: body.role }),
    result: (data) => memberJson(data.updateMemberRole),
  }),
  defineRoute({
    name: 'removeMember',
    method: 'DELETE',
    url: '/v1/members/:id',
    tag: 'Members',
    summary: 'Remove member',
    description: 'Their personal access tokens stop working in this organization.',
    permission: 'member:manage',
    params: ById,
    status: 204,
    operation: 'mutation RestRemoveMember($id: ID!) { removeMember(userId: $id) { __typename } }',
    variables: ({ params }) => ({ id: params.id }),
  }),
];
