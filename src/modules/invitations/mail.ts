import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import nodemailer, { type Transporter } from 'nodemailer';

/**
 * Mail, when SMTP_URL is set (nodemailer). Vexil sends none by itself otherwise: invitations
 * answer their accept link, and whoever invited passes it on.
 */
export interface Mailer {
  /** Whether mail is configured at all. */
  readonly enabled: boolean;
  /** Sends an invitation; resolves false (and logs why, never the link) when it could not be sent. */
  sendInvitation(to: string, invitation: { organizationName: string; role: string; link: string }): Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer;
  }
}

export const mailerPlugin = fp(
  async (app: FastifyInstance, options: { smtpUrl: string | undefined; from: string }) => {
    const transport: Transporter | null = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : null;
    const mailer: Mailer = {
      enabled: transport !== null,
      async sendInvitation(to, { organizationName, role, link }) {
        if (!transport) return false;
        try {
          await transport.sendMail({
            from: options.from,
            to,
            subject: `You are invited to ${organizationName} on Vexil`,
            text: `You are invited to join ${organizationName} on Vexil as ${role}.\n\nAccept within 7 days: ${link}\n\nThe link works once. If you did not expect it, ignore this mail.\n`,
          });
          return true;
        } catch (error) {
          app.log.warn(`mail: an invitation could not be sent (${(error as Error).name})`);
          return false;
        }
      },
    };
    app.decorate('mailer', mailer);
    app.addHook('onClose', async () => transport?.close());
  },
  { name: 'mailer' },
);
