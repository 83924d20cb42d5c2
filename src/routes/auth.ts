import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AuthService } from '../services/auth.ts'
import { tokenOf } from './guards.ts'
import { Password, responses, TOKEN_SECURITY, UserId, withExample } from './schemas.ts'

const Credentials = Type.Object({ user_id: UserId, password: Password })

export const authRoutes: FastifyPluginAsyncTypebox<{ auth: AuthService }> = async (app, { auth }) => {
  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account (balance 0)',
        body: withExample(Credentials, { user_id: 'alice', password: 's3cret' }),
        response: responses({}, [512]),
      },
    },
    async (req) => {
      await auth.register(req.body.user_id, req.body.password)
      return { message: 'ok' }
    },
  )

  app.post(
    '/auth/unregister',
    {
      schema: {
        tags: ['auth'],
        summary: 'Close an account: all sessions end, the id stays reserved',
        description:
          'Open orders are settled first, in the same transaction: every unpaid or paid-not-shipped ' +
          'order of the user as buyer (cancel_reason `buyer`) and in the user’s stores (cancel_reason ' +
          '`seller`) is cancelled, its stock released and, if paid, refunded in full to the buyer. ' +
          'Shipped orders stay: the buyer (or auto-receive) still completes them and the money goes ' +
          'to the seller’s balance, closed account or not. The stores take no new orders (513); the ' +
          'order history stays readable for the other party. The balance stays on the closed account.',
        body: withExample(Credentials, { user_id: 'alice', password: 's3cret' }),
        response: responses({}, [401]),
      },
    },
    async (req) => {
      await auth.unregister(req.body.user_id, req.body.password)
      return { message: 'ok' }
    },
  )

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start a session for one terminal; replaces that terminal’s previous token',
        body: withExample(
          Type.Object({
            user_id: UserId,
            password: Password,
            terminal: Type.String({ maxLength: 255, description: 'device name' }),
          }),
          { user_id: 'alice', password: 's3cret', terminal: 'laptop' },
        ),
        response: responses({ token: Type.String() }, [401]),
      },
    },
    async (req) => {
      const token = await auth.login(req.body.user_id, req.body.password, req.body.terminal)
      return { message: 'ok', token }
    },
  )

  app.post(
    '/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change the password; ends every session of the user',
        body: withExample(Type.Object({ user_id: UserId, oldPassword: Password, newPassword: Password }), {
          user_id: 'alice',
          oldPassword: 's3cret',
          newPassword: 'n3w-s3cret',
        }),
        response: responses({}, [401]),
      },
    },
    async (req) => {
      await auth.changePassword(req.body.user_id, req.body.oldPassword, req.body.newPassword)
      return { message: 'ok' }
    },
  )

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        security: TOKEN_SECURITY,
        summary: 'End the session of the token',
        body: withExample(Type.Object({ user_id: UserId }), { user_id: 'alice' }),
        response: responses({}, [401]),
      },
    },
    async (req) => {
      await auth.logout(req.body.user_id, tokenOf(req))
      return { message: 'ok' }
    },
  )
}
