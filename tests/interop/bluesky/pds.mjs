// Starts a did:plc directory (in memory) and a PDS in dev mode, both on 127.0.0.1, in one
// process, for the interop suite (scripts/interop.sh). The PDS reads its settings from the PDS_*
// environment variables that the script sets; INTEROP_PLC_PORT is the directory's port.
// SIGTERM or SIGINT stops both.
import { PDS } from '@atproto/pds'
import plcServer from '@did-plc/server'

const { PlcServer, Database } = plcServer

/** Makes an express app listen on loopback only (the servers' own start() binds every interface). */
function loopbackOnly(app) {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)
}

const plc = PlcServer.create({ db: Database.mock(), port: Number(process.env.INTEROP_PLC_PORT) })
loopbackOnly(plc.app)
await plc.start()

await PDS.run({
  signals: ['SIGTERM', 'SIGINT'],
  onCreated: (pds) => loopbackOnly(pds.app),
  onStarted: () => console.log(`interop: plc on ${process.env.INTEROP_PLC_PORT}, pds on ${process.env.PDS_PORT}`),
})
await plc.destroy()
